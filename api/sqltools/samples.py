"""Representative parameters for every service statement, keyed by statement name.

`sql check` plans each statement with these values (the custom plan) and without them (the
generic plan). A new statement in `sql/` must add its sample here, or the check fails. Values
mirror what the query functions pass: pages of 20 (+1), and the sentinels of `queries.items.find`
instead of nulls for an open keyset or time window. Filters pick what a client typically asks for
on the seeded data (see sql/tooling/seed_items.sql): a tag on 0.5 % of items, a batch on 0.1 %.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from api.sqltools.seed import api_key_hash, api_key_id, item_id, user_id

PAGE = 21  # a page of 20, plus one row to learn whether there is a next page
NEG_INFINITY = datetime.min.replace(tzinfo=UTC)  # asyncpg sends -infinity
POS_INFINITY = datetime.max.replace(tzinfo=UTC)  # asyncpg sends infinity
MAX_UUID = UUID(int=(1 << 128) - 1)
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
HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FtcGxl$c2FtcGxlLW5vdC1hLXJlYWwtaGFzaA"
WINDOW_SECONDS = 900
SUBJECTS = ["email:user43@example.com", "ip:10.0.0.44"]

SAMPLES: dict[str, tuple[Any, ...]] = {
    "api_keys/authenticate": (api_key_hash(42),),
    "api_keys/create": (
        user_id(42),
        "deploy",
        "ik_0badcafe",
        api_key_hash(10_000_000),
        ["items:read"],
        None,
    ),
    "api_keys/list_by_user": (user_id(42),),
    "api_keys/revoke": (api_key_id(42), user_id(42), False),
    "auth/clear_failures": (SUBJECTS[0],),
    "auth/record_failure": (SUBJECTS, WINDOW_SECONDS),
    "auth/throttle_status": (SUBJECTS, WINDOW_SECONDS),
    "health/ping": (),
    "items/create": ("blue gadget", None, ["tag-7"], {"colour": "blue"}, user_id(42)),
    "items/delete": (item_id(42), user_id(43), False),
    "items/get_by_id": (item_id(42),),
    "items/list_recent": FIRST_PAGE,
    "items/list_by_metadata": (*FIRST_PAGE, {"batch": 7}, None),
    "items/list_by_tags_all": (*FIRST_PAGE, ["tag-7", "group-7"], None, None),
    "items/list_by_tags_any": (*FIRST_PAGE, ["tag-7"]),
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
    "items/search_by_name": (*FIRST_SEARCH_PAGE[:5], "red sprocket", None, None, None),
    "items/search_by_word": FIRST_SEARCH_PAGE,
    "items/upsert": (item_id(42), "upserted gadget", None, [], {}, user_id(43), False),
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
    "users/get_credentials": ("user42@example.com",),
    "users/set_disabled": ("user42@example.com", True),
}
