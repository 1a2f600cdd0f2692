"""Representative parameters for every service statement, keyed by statement name.

`sql check` plans each statement with these values (the custom plan) and without them (the
generic plan). A new statement in `sql/` must add its sample here, or the check fails. Values
mirror what the query functions pass: pages of 20 (+1), and the sentinels of `queries.keyset`
instead of nulls for an open keyset or time window, and whole items (`fields` null, the hot path)
for most lists, some fields for a few. Filters pick what a client typically asks for
on the seeded data (see sql/tooling/seed_items.sql): a tag on 0.5 % of items, a batch on 0.1 %.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from api.sqltools.seed import api_key_hash, api_key_id, item_id, user_id
from queries.keyset import MAX_UUID, MIN_UUID, NEG_INFINITY, POS_INFINITY

PAGE = 21  # a page of 20, plus one row to learn whether there is a next page
FIRST_SCORE = 2.0
FIRST_PAGE = (PAGE, NEG_INFINITY, POS_INFINITY, POS_INFINITY, MAX_UUID)
# A one-word search, with no filter (search_by_name takes the same parameters, with two words).
FIRST_SEARCH_PAGE = (
    PAGE,
    NEG_INFINITY,
    POS_INFINITY,
    FIRST_SCORE,
    MAX_UUID,
    "sprocket",
    None,
    None,
    None,
)
# A page of a two-field sort by name and a time after a cursor in the middle of the seeded items
# (item n was created n * 5 minutes before the seeding); the first page passes a null name.
NAME_TIME_PAGE = (
    PAGE,
    "red lever 50000",
    datetime.now(UTC) - timedelta(minutes=5 * 50_000),
    item_id(50_000),
)
HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FtcGxl$c2FtcGxlLW5vdC1hLXJlYWwtaGFzaA"
COUNTED = 100_001  # ITEM_COUNT_CAP plus one: the most items a count reads
OPEN_WINDOW = (NEG_INFINITY, POS_INFINITY)
WINDOW_SECONDS = 900
ACCOUNT = hashlib.sha256(b"account:user43@example.com").digest()
ADDRESS = hashlib.sha256(b"address:10.0.0.44").digest()

SAMPLES: dict[str, tuple[Any, ...]] = {
    "api_keys/authenticate": (api_key_hash(42), 365, 60.0),
    "api_keys/create": (
        user_id(42),
        "deploy",
        "ik_0badcafe",
        api_key_hash(10_000_000),
        ["items:read"],
        POS_INFINITY,
        api_key_id(42),
        365,
        100,
    ),
    "api_keys/list_by_key": (api_key_id(42), POS_INFINITY, MAX_UUID, PAGE),
    "api_keys/list_by_user": (user_id(42), POS_INFINITY, MAX_UUID, PAGE),
    "api_keys/lock_owner": (user_id(42),),
    "api_keys/record_use": (api_key_id(42), 60.0),
    "api_keys/revoke": (api_key_id(42), user_id(42), False, api_key_id(42)),
    "auth/clear_login_attempts": (ACCOUNT,),
    "auth/delete_ended_login_windows": (WINDOW_SECONDS, 500),
    "auth/record_login_success": (ACCOUNT, ADDRESS, 100),
    "auth/release_login_attempt": (ACCOUNT, 5, ADDRESS, 100),
    "auth/reserve_login_attempt": (
        ACCOUNT,
        ADDRESS,
        WINDOW_SECONDS,
        5,
        100,
        "user43@example.com",
    ),
    "health/ping": (),
    "replication/primary_position": (),
    "replication/replay_position": (),
    "idempotency/delete_expired": (500,),
    "idempotency/find": (user_id(42), "key-42"),
    "idempotency/lock": (user_id(42), "8e03978e-40d5-43e8-bc93-6894a57f9324"),
    "idempotency/store": (
        user_id(42),
        "8e03978e-40d5-43e8-bc93-6894a57f9324",
        bytes(32),
        201,
        [["etag", '"5f1e4c1a9a55"'], ["location", f"/api/v1/items/{item_id(42)}"]],
        b'{"id":"..."}',
        86400.0,
    ),
    "items/count_owned": (user_id(42),),
    "items/import_upsert": (user_id(43), False),
    "items/import_refused": (user_id(43), False, 100),
    "items/import_duplicates": (100,),
    "items/create": ("blue gadget", None, ["tag-7"], {"colour": "blue"}, user_id(42), 100_000),
    "items/create_if_absent": (
        item_id(10_000_000),
        "new gadget",
        None,
        ["tag-7"],
        {"colour": "blue"},
        user_id(42),
        100_000,
    ),
    "items/delete": (item_id(42), user_id(43), False, None),
    "items/get_by_id": (item_id(42),),
    "items/get_by_ids": ([item_id(n) for n in range(40, 72)],),
    "items/list_recent": (*FIRST_PAGE, None),
    "items/list_by_metadata": (*FIRST_PAGE, {"batch": 7}, None, None),
    "items/list_by_tags_all": (*FIRST_PAGE, ["tag-7", "group-7"], None, None, None),
    "items/list_by_tags_any": (*FIRST_PAGE, ["tag-7"], ["id", "name"]),
    "items/list_oldest": (PAGE, NEG_INFINITY, POS_INFINITY, NEG_INFINITY, MIN_UUID, None),
    "items/list_by_updated_at": (PAGE, NEG_INFINITY, MIN_UUID, None),
    "items/list_by_updated_at_desc": (PAGE, POS_INFINITY, MAX_UUID, None),
    "items/list_by_name": (PAGE, "", MIN_UUID, ["name"]),
    "items/list_by_name_desc": (PAGE, "red sprocket 42", item_id(42), None),
    "items/list_by_name_desc_first": (PAGE, None),
    "items/list_by_name_created_at": (*NAME_TIME_PAGE, None),
    "items/list_by_name_created_at_desc": (*NAME_TIME_PAGE, ["id", "name"]),
    "items/list_by_name_desc_created_at": (*NAME_TIME_PAGE, None),
    "items/list_by_name_desc_created_at_desc": (*NAME_TIME_PAGE, None),
    "items/list_by_name_updated_at": (*NAME_TIME_PAGE, None),
    "items/list_by_name_updated_at_desc": (*NAME_TIME_PAGE, None),
    "items/list_by_name_desc_updated_at": (*NAME_TIME_PAGE, None),
    "items/list_by_name_desc_updated_at_desc": (*NAME_TIME_PAGE, None),
    "items/get_fields_by_id": (item_id(42), ["id", "name", "tags"]),
    "items/count_recent": (NEG_INFINITY, POS_INFINITY, 100_001),
    "items/estimate_count": (),
    "items/count_by_tags_any": (COUNTED, *OPEN_WINDOW, ["tag-7"]),
    "items/count_by_tags_all": (COUNTED, *OPEN_WINDOW, ["tag-7", "group-7"], None, None),
    "items/count_by_metadata": (COUNTED, *OPEN_WINDOW, {"batch": 7}, None),
    "items/count_by_word": (COUNTED, *OPEN_WINDOW, "sprocket", None, None, None),
    "items/count_by_name": (COUNTED, *OPEN_WINDOW, "red sprocket", None, None, None),
    "items/estimate_matching": (*OPEN_WINDOW, ["tag-7"], None),
    "items/patch": (
        item_id(42),
        "renamed gadget",
        False,
        None,
        None,
        None,
        None,
        user_id(43),
        False,
    ),
    "items/replace": (
        item_id(42),
        "replaced gadget",
        None,
        ["tag-7"],
        {"colour": "blue"},
        None,
        user_id(43),
        False,
    ),
    "items/search_by_name": (*FIRST_SEARCH_PAGE[:5], "red sprocket", None, None, None, None),
    "items/search_by_word": (*FIRST_SEARCH_PAGE, None),
    # sort=name,-created_at with a one-word search, the first page.
    "items/search_sorted": (
        PAGE,
        NEG_INFINITY,
        POS_INFINITY,
        "sprocket",
        True,
        None,
        None,
        None,
        1,
        "created_at",
        -1,
        None,
        None,
        None,
        None,
    ),
    "items/upsert": (item_id(42), "upserted gadget", None, [], {}, user_id(43), False, 100_000),
    "items/upsert_batch": (
        [
            {"id": str(item_id(n)), "name": f"batch {n}", "tags": [], "metadata": {}}
            for n in range(40, 45)
        ],
        user_id(43),
        False,
    ),
    "users/create": ("new-user@example.com", HASH, ["items:read"]),
    "users/get_by_id": (user_id(42),),
    "users/get_token_check": (user_id(42),),
    "users/get_credentials": ("user42@example.com",),
    "users/set_disabled": ("user42@example.com", True),
    "users/set_scopes": ("user42@example.com", ["items:read"]),
    "users/get_id_by_email": ("user42@example.com",),
    "users/list_page": ("user42@example.com", 500),
    "users/set_password": ("user42@example.com", HASH),
}
