"""API keys: created once with their secret, listed without it, used, revoked, refused."""

from __future__ import annotations

import asyncio
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from api.auth import keys
from api.auth.service import LAST_USED_RESOLUTION_SECONDS
from api.contracts.keys import PRINTABLE_PATTERN, is_printable
from queries import users
from tests.conftest import PASSWORD, TEST_SECRET_KEY, Account, MakeUser, problem

KEYS = "/api/v1/api-keys"
ITEMS = "/api/v1/items"


async def create_key(
    client: httpx.AsyncClient, owner: Account, name: str = "ci", **fields: Any
) -> dict[str, Any]:
    response = await client.post(KEYS, json={"name": name, **fields}, headers=owner.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def x_api_key(secret: str) -> dict[str, str]:
    return {"X-API-Key": secret}


def unauthorized(response: httpx.Response) -> dict[str, Any]:
    body = problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    return body


async def test_create_answers_the_secret_once_with_a_recognisable_prefix(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.post(
        KEYS, json={"name": "deploy", "scopes": ["items:read"]}, headers=alice.headers
    )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    created = response.json()
    secret = created["key"]
    assert secret.startswith("itk_")
    assert len(secret) >= 4 + 40  # 256 bits of randomness after the prefix
    assert created["prefix"] == secret[:12]
    assert created["name"] == "deploy"
    assert created["scopes"] == ["items:read"]
    assert created["expires_at"] is not None  # API_KEY_MAX_TTL_DAYS ahead by default
    assert uuid.UUID(created["id"])

    other = await create_key(client, alice, "second")
    assert other["key"] != secret
    # the caller's scopes by default
    assert other["scopes"] == ["items:read", "items:write", "keys:manage"]

    listing = await client.get(KEYS, headers=alice.headers)
    assert listing.status_code == 200
    assert secret not in listing.text
    assert other["key"] not in listing.text
    assert all("key" not in entry for entry in listing.json())


async def test_listing_shows_own_keys_without_secrets_and_when_they_were_used(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    created = await create_key(client, alice, "laptop")
    await create_key(client, bob, "bob's")

    before = (await client.get(KEYS, headers=alice.headers)).json()
    assert [entry["name"] for entry in before] == ["laptop"]  # not bob's key
    (entry,) = before
    assert set(entry) == {
        "id",
        "name",
        "prefix",
        "scopes",
        "expires_at",
        "revoked_at",
        "last_used_at",
        "created_at",
    }
    assert entry["id"] == created["id"]
    assert entry["prefix"] == created["prefix"]
    assert entry["last_used_at"] is None
    assert entry["revoked_at"] is None

    assert (await client.get(ITEMS, headers=x_api_key(created["key"]))).status_code == 200
    (after,) = (await client.get(KEYS, headers=alice.headers)).json()
    assert after["last_used_at"] is not None
    assert after["last_used_at"] >= after["created_at"]


async def test_a_key_works_as_x_api_key_and_as_bearer(
    client: httpx.AsyncClient, alice: Account
) -> None:
    secret = (await create_key(client, alice))["key"]
    by_header = await client.post(ITEMS, json={"name": "via header"}, headers=x_api_key(secret))
    assert by_header.status_code == 201, by_header.text
    assert by_header.json()["owner_id"] == str(alice.id)

    by_bearer = await client.get(
        f"{ITEMS}/{by_header.json()['id']}", headers={"Authorization": f"Bearer {secret}"}
    )
    assert by_bearer.status_code == 200
    me = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.json()["id"] == str(alice.id)


async def test_revoking_a_key_refuses_it_at_once(client: httpx.AsyncClient, alice: Account) -> None:
    created = await create_key(client, alice)
    secret = created["key"]
    # Used once, so the key sits in the authenticator's cache when it is revoked.
    assert (await client.get(ITEMS, headers=x_api_key(secret))).status_code == 200

    revoked = await client.delete(f"{KEYS}/{created['id']}", headers=alice.headers)
    assert revoked.status_code == 204
    body = unauthorized(await client.get(ITEMS, headers=x_api_key(secret)))
    assert "revoked" in body["detail"]
    unauthorized(await client.get(ITEMS, headers={"Authorization": f"Bearer {secret}"}))

    (entry,) = (await client.get(KEYS, headers=alice.headers)).json()
    assert entry["revoked_at"] is not None


async def test_another_users_key_cannot_be_revoked(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    created = await create_key(client, alice)
    body = problem(await client.delete(f"{KEYS}/{created['id']}", headers=bob.headers), 404)
    assert created["id"] in body["detail"]
    problem(await client.delete(f"{KEYS}/{uuid.uuid4()}", headers=alice.headers), 404)
    problem(await client.delete(f"{KEYS}/not-a-uuid", headers=alice.headers), 422)

    assert (await client.get(ITEMS, headers=x_api_key(created["key"]))).status_code == 200
    (entry,) = (await client.get(KEYS, headers=alice.headers)).json()
    assert entry["revoked_at"] is None


async def test_an_expired_key_is_refused(
    client: httpx.AsyncClient, alice: Account, database_url: str
) -> None:
    expires = datetime.now(UTC) + timedelta(days=1)
    created = await create_key(client, alice, expires_at=expires.isoformat())
    assert datetime.fromisoformat(created["expires_at"]) == expires
    # Its expiry passes (set in the database rather than waited for) before it is ever used.
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE api_keys SET expires_at = now() - interval '1 minute' WHERE id = %s",
            (created["id"],),
        )
    body = unauthorized(await client.get(ITEMS, headers=x_api_key(created["key"])))
    assert "expired" in body["detail"]


async def test_an_expiry_in_the_past_or_without_zone_is_422(
    client: httpx.AsyncClient, alice: Account
) -> None:
    past = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    body = problem(
        await client.post(KEYS, json={"name": "old", "expires_at": past}, headers=alice.headers),
        422,
    )
    assert body["errors"][0]["field"] == "$.expires_at"
    naive = (datetime.now(UTC) + timedelta(days=1)).replace(tzinfo=None).isoformat()
    body = problem(
        await client.post(KEYS, json={"name": "naive", "expires_at": naive}, headers=alice.headers),
        422,
    )
    assert body["errors"][0]["field"] == "$.expires_at"
    assert (await client.get(KEYS, headers=alice.headers)).json() == []


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": ""}, "$.name"),
        ({"name": "x" * 101}, "$.name"),
        ({"name": "x", "scopes": ["root"]}, "$.scopes[0]"),
        ({"name": "x", "secret": "itk_mine"}, "$.secret"),
        ({}, "$.name"),  # the missing field itself
    ],
)
async def test_invalid_new_keys_are_422(
    client: httpx.AsyncClient, alice: Account, payload: dict[str, Any], field: str
) -> None:
    body = problem(await client.post(KEYS, json=payload, headers=alice.headers), 422)
    assert body["errors"][0]["field"] == field


async def test_a_key_cannot_have_scopes_its_creator_lacks(
    client: httpx.AsyncClient, alice: Account, make_user: MakeUser
) -> None:
    body = problem(
        await client.post(
            KEYS, json={"name": "sneaky", "scopes": ["items:read", "admin"]}, headers=alice.headers
        ),
        403,
    )
    assert "admin" in body["detail"]

    reader = await make_user("reader@example.com", scopes=("items:read",))
    problem(
        await client.post(
            KEYS, json={"name": "w", "scopes": ["items:write"]}, headers=reader.headers
        ),
        403,
    )

    # A read-only key cannot mint itself a wider key either.
    read_key = (await create_key(client, alice, "ro", scopes=["items:read"]))["key"]
    problem(
        await client.post(
            KEYS, json={"name": "wider", "scopes": ["items:write"]}, headers=x_api_key(read_key)
        ),
        403,
    )
    names = [entry["name"] for entry in (await client.get(KEYS, headers=alice.headers)).json()]
    assert names == ["ro"]


async def test_admin_may_give_a_key_admin(client: httpx.AsyncClient, admin: Account) -> None:
    created = await create_key(client, admin, "ops", scopes=["admin"])
    assert created["scopes"] == ["admin"]


async def test_a_keys_scopes_limit_what_it_can_do(
    client: httpx.AsyncClient, alice: Account
) -> None:
    item = (await client.post(ITEMS, json={"name": "mine"}, headers=alice.headers)).json()
    read_key = (await create_key(client, alice, "read", scopes=["items:read"]))["key"]
    write_key = (await create_key(client, alice, "write", scopes=["items:write"]))["key"]

    assert (
        await client.get(f"{ITEMS}/{item['id']}", headers=x_api_key(read_key))
    ).status_code == 200
    problem(await client.post(ITEMS, json={"name": "x"}, headers=x_api_key(read_key)), 403)
    problem(await client.delete(f"{ITEMS}/{item['id']}", headers=x_api_key(read_key)), 403)

    problem(await client.get(f"{ITEMS}/{item['id']}", headers=x_api_key(write_key)), 403)
    patched = await client.patch(
        f"{ITEMS}/{item['id']}", json={"name": "renamed"}, headers=x_api_key(write_key)
    )
    assert patched.status_code == 200


async def test_a_keys_scopes_are_bounded_by_its_users_current_scopes(
    client: httpx.AsyncClient, make_user: MakeUser, app: Any
) -> None:
    carol = await make_user("carol@example.com", scopes=("items:read", "items:write", "admin"))
    secret = (await create_key(client, carol, "wide"))["key"]
    async with app.state.pool.acquire() as connection:
        await connection.execute("UPDATE users SET scopes = '{items:read}' WHERE id = $1", carol.id)
    # Cached keys stay valid for at most AUTH_CACHE_SECONDS; clearing stands for that passing.
    app.state.authenticator.forget_everything()
    problem(await client.post(ITEMS, json={"name": "x"}, headers=x_api_key(secret)), 403)
    assert (await client.get(ITEMS, headers=x_api_key(secret))).status_code == 200


async def test_keys_of_a_disabled_user_are_refused(
    client: httpx.AsyncClient, alice: Account, app: Any
) -> None:
    secret = (await create_key(client, alice))["key"]
    assert (await client.get(ITEMS, headers=x_api_key(secret))).status_code == 200
    await users.set_disabled(app.state.pool, alice.email, True)
    app.state.authenticator.forget_everything()  # stands for AUTH_CACHE_SECONDS passing
    unauthorized(await client.get(ITEMS, headers=x_api_key(secret)))


@pytest.mark.parametrize(
    "presented",
    ["itk_", "itk_" + "A" * 43, "itk_not-a-real-key", "", "   "],
)
async def test_unknown_or_malformed_keys_are_refused(
    client: httpx.AsyncClient, presented: str
) -> None:
    unauthorized(await client.get(ITEMS, headers=x_api_key(presented)))


async def test_the_database_stores_only_a_keyed_hash(
    client: httpx.AsyncClient, alice: Account, database_url: str
) -> None:
    created = await create_key(client, alice)
    secret = created["key"]
    random_part = secret.removeprefix("itk_")
    with psycopg.connect(database_url) as conn:
        cursor = conn.execute("SELECT * FROM api_keys WHERE id = %s", (created["id"],))
        row = cursor.fetchone()
        assert row is not None
        columns = [column.name for column in cursor.description or []]
    stored = dict(zip(columns, row, strict=True))
    for name, value in stored.items():
        text = value.hex() if isinstance(value, bytes) else str(value)
        assert random_part not in text, name
        assert random_part[:20] not in text, name
        if isinstance(value, bytes):
            assert secret.encode() not in value, name
            assert random_part.encode() not in value, name
    pepper = keys.derive_pepper(TEST_SECRET_KEY)
    assert bytes(stored["secret_hash"]) == keys.hash_key(pepper, secret)
    assert stored["prefix"] == secret[:12]  # only a short, recognisable prefix is kept
    assert PASSWORD not in str(stored)


async def test_a_key_made_with_a_key_cannot_outlive_it(
    client: httpx.AsyncClient, alice: Account
) -> None:
    soon = datetime.now(UTC) + timedelta(hours=1)
    parent = await create_key(client, alice, "parent", expires_at=soon.isoformat())
    later = (soon + timedelta(days=1)).isoformat()
    body = problem(
        await client.post(
            KEYS, json={"name": "child", "expires_at": later}, headers=x_api_key(parent["key"])
        ),
        403,
    )
    assert body["type"] == "/problems/lifetime-escalation"
    child = await client.post(KEYS, json={"name": "child"}, headers=x_api_key(parent["key"]))
    assert child.status_code == 201
    assert child.json()["expires_at"] == parent["expires_at"]
    # A key made with a login token may live as long as asked: tokens are short by design.
    assert (await create_key(client, alice, "long", expires_at=later))["expires_at"] is not None


# --- key management needs keys:manage; revocation follows the chain; lifetimes are bounded ----


async def test_managing_keys_needs_the_keys_manage_scope(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """Finding: a read-only key revoked its owner's read-write key."""
    read_write = await create_key(client, alice, "rw", scopes=["items:read", "items:write"])
    read_only = x_api_key((await create_key(client, alice, "ro", scopes=["items:read"]))["key"])
    revoke = await client.delete(f"{KEYS}/{read_write['id']}", headers=read_only)
    assert problem(revoke, 403)["type"] == "/problems/insufficient-scope"
    assert "keys:manage" in revoke.headers["www-authenticate"]
    problem(await client.get(KEYS, headers=read_only), 403)
    problem(await client.post(KEYS, json={"name": "x"}, headers=read_only), 403)
    # The read-write key still works.
    assert (await client.get(ITEMS, headers=x_api_key(read_write["key"]))).status_code == 200


async def test_a_user_without_keys_manage_cannot_manage_keys_but_admin_can(
    client: httpx.AsyncClient, make_user: MakeUser, admin: Account
) -> None:
    plain = await make_user("plain@example.com", scopes=("items:read", "items:write"))
    problem(await client.post(KEYS, json={"name": "x"}, headers=plain.headers), 403)
    problem(await client.get(KEYS, headers=plain.headers), 403)
    assert (await client.get(KEYS, headers=admin.headers)).status_code == 200  # admin implies it
    made = await create_key(client, admin, "by admin")
    assert (await client.delete(f"{KEYS}/{made['id']}", headers=admin.headers)).status_code == 204


async def test_revoking_a_key_revokes_the_keys_created_with_it(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """Finding: keys created with a key survived the revocation of their parent."""
    parent = await create_key(client, alice, "parent")
    child = await client.post(KEYS, json={"name": "child"}, headers=x_api_key(parent["key"]))
    assert child.status_code == 201
    grandchild = await client.post(
        KEYS, json={"name": "grandchild"}, headers=x_api_key(child.json()["key"])
    )
    assert grandchild.status_code == 201
    sibling = await create_key(client, alice, "unrelated")
    for key in (child.json()["key"], grandchild.json()["key"]):  # cached as live
        assert (await client.get(ITEMS, headers=x_api_key(key))).status_code == 200

    assert (await client.delete(f"{KEYS}/{parent['id']}", headers=alice.headers)).status_code == 204
    for key in (parent["key"], child.json()["key"], grandchild.json()["key"]):
        unauthorized(await client.get(ITEMS, headers=x_api_key(key)))
    assert (await client.get(ITEMS, headers=x_api_key(sibling["key"]))).status_code == 200
    listed = {
        k["name"]: k["revoked_at"] for k in (await client.get(KEYS, headers=alice.headers)).json()
    }
    assert listed["child"] is not None
    assert listed["grandchild"] is not None
    assert listed["unrelated"] is None


async def test_a_key_lives_at_most_api_key_max_ttl_days(
    client: httpx.AsyncClient, alice: Account, settings: Any
) -> None:
    """Finding: a one-hour token minted a key that never expires."""
    limit = timedelta(days=settings.api_key_max_ttl_days)
    made = await create_key(client, alice, "default")
    expires = datetime.fromisoformat(made["expires_at"])
    assert limit - timedelta(minutes=1) < expires - datetime.now(UTC) <= limit
    too_late = (datetime.now(UTC) + limit + timedelta(days=1)).isoformat()
    body = problem(
        await client.post(KEYS, json={"name": "x", "expires_at": too_late}, headers=alice.headers),
        422,
    )
    assert body["errors"][0]["field"] == "$.expires_at"
    assert "API_KEY_MAX_TTL_DAYS" in body["errors"][0]["message"]
    # A key minted by a key is bounded the same way (and by its parent).
    child = await client.post(
        KEYS, json={"name": "x", "expires_at": too_late}, headers=x_api_key(made["key"])
    )
    problem(child, 422)


async def test_a_key_older_than_the_maximum_is_refused_even_without_expiry(
    client: httpx.AsyncClient, alice: Account, app: Any, database_url: str, settings: Any
) -> None:
    """Keys made before the maximum existed (expires_at null) are bounded by their age."""
    made = await create_key(client, alice, "legacy")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE api_keys SET expires_at = NULL, created_at = now() - make_interval(days => %s)"
            " WHERE id = %s",
            (settings.api_key_max_ttl_days + 1, made["id"]),
        )
    app.state.authenticator.forget_everything()
    unauthorized(await client.get(ITEMS, headers=x_api_key(made["key"])))


# --- a guessed key costs no write; a used key's last use is written at most once a resolution


@pytest.fixture
def update_statements(database_url: str) -> Iterator[Callable[[], int]]:
    """How many UPDATE statements have run on api_keys since the fixture began, whether or not
    they changed a row: a statement-level trigger counts each one, exactly and at once."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE test_api_key_updates (n integer)")
        conn.execute(
            "CREATE FUNCTION test_count_api_key_update() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN INSERT INTO test_api_key_updates VALUES (1); RETURN NULL; END $$"
        )
        conn.execute(
            "CREATE TRIGGER test_count_api_key_update AFTER UPDATE ON api_keys"
            " FOR EACH STATEMENT EXECUTE FUNCTION test_count_api_key_update()"
        )

        def count() -> int:
            row = conn.execute("SELECT count(*) FROM test_api_key_updates").fetchone()
            assert row is not None
            return int(row[0])

        try:
            yield count
        finally:
            conn.execute("DROP TRIGGER test_count_api_key_update ON api_keys")
            conn.execute("DROP FUNCTION test_count_api_key_update()")
            conn.execute("DROP TABLE test_api_key_updates")


async def test_an_unknown_or_refused_key_costs_no_write(
    client: httpx.AsyncClient,
    alice: Account,
    database_url: str,
    update_statements: Callable[[], int],
) -> None:
    """Finding: every X-API-Key guess cost an UPDATE in PostgreSQL before it was refused."""
    revoked = await create_key(client, alice, "revoked")
    assert (
        await client.delete(f"{KEYS}/{revoked['id']}", headers=alice.headers)
    ).status_code == 204
    expired = await create_key(client, alice, "expired")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE api_keys SET expires_at = now() - interval '1 minute' WHERE id = %s",
            (expired["id"],),
        )
    before = update_statements()
    guesses = [keys.new_key() for _ in range(48)] + [revoked["key"], expired["key"]]
    for guess in guesses:
        unauthorized(await client.get(ITEMS, headers=x_api_key(guess)))
    assert update_statements() == before


async def test_a_valid_key_records_its_use_at_most_once_a_resolution(
    client: httpx.AsyncClient,
    alice: Account,
    app: Any,
    database_url: str,
    update_statements: Callable[[], int],
) -> None:
    created = await create_key(client, alice, "busy")

    def last_used() -> datetime | None:
        with psycopg.connect(database_url) as conn:
            row = conn.execute(
                "SELECT last_used_at FROM api_keys WHERE id = %s", (created["id"],)
            ).fetchone()
        assert row is not None
        value: datetime | None = row[0]
        return value

    before = update_statements()
    assert (await client.get(ITEMS, headers=x_api_key(created["key"]))).status_code == 200
    first = last_used()
    assert first is not None
    assert update_statements() == before + 1
    for _ in range(5):
        # Each stands for a request after AUTH_CACHE_SECONDS, or in another process.
        app.state.authenticator.forget_everything()
        assert (await client.get(ITEMS, headers=x_api_key(created["key"]))).status_code == 200
    assert update_statements() == before + 1
    assert last_used() == first

    resolution = timedelta(seconds=LAST_USED_RESOLUTION_SECONDS)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE api_keys SET last_used_at = last_used_at - %s WHERE id = %s",
            (resolution + timedelta(seconds=1), created["id"]),
        )
    app.state.authenticator.forget_everything()
    assert (await client.get(ITEMS, headers=x_api_key(created["key"]))).status_code == 200
    later = last_used()
    assert later is not None
    assert later > first - resolution


# --- key names: printable characters only, in NFC


@pytest.mark.parametrize(
    "name",
    [
        "deploy\x1b[31m",  # an ANSI escape: C0 control
        "line\nbreak",
        "tab\there",
        "del\x7f",
        "next\x85line",  # C1 control
        "\u202eyolped",  # right-to-left override: shows as "deploy" reversed
        "a\u202ab",
        "\u2066isolate\u2069",
        "zero\u200bwidth",
        "joiner\u200d",
        "\ufeffbom",
        "soft\u00adhyphen",
        "line\u2028separator",
        "paragraph\u2029separator",
        "tag\U000e0041character",  # outside the BMP: the check covers every plane
    ],
)
async def test_a_key_name_holds_printable_characters_only(
    client: httpx.AsyncClient, alice: Account, name: str
) -> None:
    """Finding: key names held control and bidirectional characters."""
    body = problem(await client.post(KEYS, json={"name": name}, headers=alice.headers), 422)
    assert body["errors"] == [{"field": "$.name", "message": body["errors"][0]["message"]}]
    assert "printable" in body["errors"][0]["message"]
    assert (await client.get(KEYS, headers=alice.headers)).json() == []


async def test_a_key_name_is_stored_in_nfc_and_counted_there(
    client: httpx.AsyncClient, alice: Account
) -> None:
    made = await create_key(client, alice, "Cafe\u0301 \u05e9\u05dc\u05d5\u05dd \U0001f511")
    assert made["name"] == "Caf\u00e9 \u05e9\u05dc\u05d5\u05dd \U0001f511"
    (listed,) = (await client.get(KEYS, headers=alice.headers)).json()
    assert listed["name"] == made["name"]
    # 100 characters once composed, though sent as 200.
    assert (await create_key(client, alice, "e\u0301" * 100))["name"] == "\u00e9" * 100
    body = problem(
        await client.post(KEYS, json={"name": "e\u0301" * 101}, headers=alice.headers), 422
    )
    assert body["errors"] == [{"field": "$.name", "message": "must have at most 100 characters"}]


def test_the_name_pattern_refuses_exactly_the_refused_characters_of_the_bmp() -> None:
    """The schema's pattern (for clients) and the server's check agree on every BMP character."""
    pattern = re.compile(PRINTABLE_PATTERN)
    for code in range(0x10000):
        if 0xD800 <= code <= 0xDFFF:
            continue  # surrogates: never a character of decoded JSON text
        char = chr(code)
        refused = unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")
        assert (pattern.fullmatch(char) is None) == refused, hex(code)
        assert is_printable(char) != refused, hex(code)


# --- keys listed in pages; a key manages only itself and the keys created with it


def insert_keys(
    database_url: str, owner: Account, count: int, *, state: str = "working"
) -> list[str]:
    """`count` keys of `owner` written straight into the table (their secrets are unknown):
    working, revoked or expired. Creation times repeat, three keys a second, as keys created
    together do, so that pages must break ties by id."""
    expires_in = timedelta(minutes=-1) if state == "expired" else timedelta(days=1)
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "INSERT INTO api_keys (user_id, name, prefix, secret_hash, scopes, expires_at,"
            " revoked_at, created_at)"
            " SELECT %s, 'bulk ' || n, 'itk_bulk',"
            " uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()), '{items:read}',"
            " now() + %s, CASE WHEN %s THEN now() END, now() - make_interval(secs => n / 3)"
            " FROM generate_series(1, %s) AS n RETURNING id",
            (owner.id, expires_in, state == "revoked", count),
        ).fetchall()
    return [str(row[0]) for row in rows]


async def walk(
    client: httpx.AsyncClient, headers: dict[str, str], url: str = KEYS
) -> list[list[dict[str, Any]]]:
    """Every page of a key listing, following its Link: rel="next" headers to the last page."""
    pages: list[list[dict[str, Any]]] = []
    next_url: str | None = url
    while next_url is not None:
        response = await client.get(next_url, headers=headers)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        link = response.headers.get("link")
        next_url = None
        if link is not None:
            match = re.fullmatch(r'<([^>]+)>; rel="next"', link)
            assert match is not None, link
            next_url = match.group(1)
            assert next_url.startswith(f"{KEYS}?")
    return pages


async def test_the_key_list_comes_in_pages_linked_by_rel_next(
    client: httpx.AsyncClient, alice: Account, bob: Account, database_url: str
) -> None:
    """Finding: GET /api/v1/api-keys answered every key in one array (53 MB for 150,000)."""
    inserted = set(insert_keys(database_url, alice, 60, state="revoked"))
    inserted |= set(insert_keys(database_url, alice, 60))
    insert_keys(database_url, bob, 3)

    first = await client.get(KEYS, headers=alice.headers)
    assert len(first.json()) == 50  # the default page size
    assert 'rel="next"' in first.headers["link"]

    for url, size in ((KEYS, 50), (f"{KEYS}?limit=7", 7), (f"{KEYS}?limit=200", 200)):
        pages = await walk(client, alice.headers, url)
        assert all(len(page) == size for page in pages[:-1])
        assert 0 < len(pages[-1]) <= size
        listed = [entry for page in pages for entry in page]
        assert {entry["id"] for entry in listed} == inserted  # each once, no other user's
        assert len(listed) == len(inserted)
        order = [(entry["created_at"], uuid.UUID(entry["id"])) for entry in listed]
        assert order == sorted(order, reverse=True)  # newest first, ties broken by id

    # The body is still an array of keys, as before paging.
    (only,) = (await client.get(f"{KEYS}?limit=1", headers=bob.headers)).json()
    assert set(only) == {
        "id",
        "name",
        "prefix",
        "scopes",
        "expires_at",
        "revoked_at",
        "last_used_at",
        "created_at",
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "query.limit"),
        ("limit=201", "query.limit"),
        ("limit=-1", "query.limit"),
        ("limit=1e1", "query.limit"),
        ("limit=ten", "query.limit"),
        ("limit=5&limit=6", "query.limit"),
        ("cursor=not-a-cursor", "query.cursor"),
        ("cursor=" + "A" * 513, "query.cursor"),
        ("sort=name", "query.sort"),
    ],
)
async def test_a_bad_page_size_or_cursor_is_422_naming_it(
    client: httpx.AsyncClient, alice: Account, query: str, field: str
) -> None:
    body = problem(await client.get(f"{KEYS}?{query}", headers=alice.headers), 422)
    assert body["errors"][0]["field"] == field


async def test_a_cursor_serves_only_the_listing_it_came_from(
    client: httpx.AsyncClient, alice: Account, bob: Account, database_url: str
) -> None:
    insert_keys(database_url, alice, 3)
    insert_keys(database_url, bob, 3)
    link = (await client.get(f"{KEYS}?limit=1", headers=alice.headers)).headers["link"]
    cursor = re.search(r"cursor=([^&>]+)", link)
    assert cursor is not None
    # Another user's listing, and the same user's listing through one of the user's keys.
    body = problem(await client.get(f"{KEYS}?cursor={cursor[1]}", headers=bob.headers), 422)
    assert body["errors"][0]["field"] == "query.cursor"
    key = await create_key(client, alice, "manager")
    refused = await client.get(f"{KEYS}?cursor={cursor[1]}", headers=x_api_key(key["key"]))
    assert problem(refused, 422)["errors"][0]["field"] == "query.cursor"
    # An items cursor is no key cursor.
    await client.post(ITEMS, json={"name": "a"}, headers=alice.headers)
    await client.post(ITEMS, json={"name": "b"}, headers=alice.headers)
    items_link = (await client.get(f"{ITEMS}?limit=1", headers=alice.headers)).headers["link"]
    items_cursor = re.search(r"cursor=([^&>]+)", items_link)
    assert items_cursor is not None
    problem(await client.get(f"{KEYS}?cursor={items_cursor[1]}", headers=alice.headers), 422)


async def test_a_key_manages_only_itself_and_the_keys_it_created(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """Finding: a keys:manage key listed and revoked every key of its user, its parent too."""
    parent = await create_key(client, alice, "parent")
    unrelated = await create_key(client, alice, "unrelated")
    manager = await client.post(KEYS, json={"name": "manager"}, headers=x_api_key(parent["key"]))
    sibling = await client.post(KEYS, json={"name": "sibling"}, headers=x_api_key(parent["key"]))
    manager_key = x_api_key(manager.json()["key"])
    child = await client.post(KEYS, json={"name": "child"}, headers=manager_key)
    assert {manager.status_code, sibling.status_code, child.status_code} == {201}

    names = {entry["name"] for page in await walk(client, manager_key) for entry in page}
    assert names == {"manager", "child"}
    # The page cursor of a key's listing stays within it.
    pages = await walk(client, manager_key, f"{KEYS}?limit=1")
    assert [entry["name"] for page in pages for entry in page] == ["child", "manager"]

    for other in (parent, unrelated, sibling.json()):
        refused = await client.delete(f"{KEYS}/{other['id']}", headers=manager_key)
        assert other["id"] in problem(refused, 404)["detail"]  # as if there were no such key
    listed = {
        k["name"]: k["revoked_at"] for k in (await client.get(KEYS, headers=alice.headers)).json()
    }
    assert all(revoked is None for revoked in listed.values())

    revoked = await client.delete(f"{KEYS}/{child.json()['id']}", headers=manager_key)
    assert revoked.status_code == 204
    assert (
        await client.delete(f"{KEYS}/{manager.json()['id']}", headers=manager_key)
    ).status_code == 204
    unauthorized(await client.get(KEYS, headers=manager_key))
    # The user's token still manages every key of the user.
    everything = {entry["name"] for entry in (await client.get(KEYS, headers=alice.headers)).json()}
    assert everything == {"parent", "unrelated", "manager", "sibling", "child"}
    assert (
        await client.delete(f"{KEYS}/{sibling.json()['id']}", headers=alice.headers)
    ).status_code == 204


# --- at most API_KEYS_MAX_PER_USER working keys per user


def working_keys(database_url: str, owner: Account) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM api_keys WHERE user_id = %s AND revoked_at IS NULL"
            " AND expires_at > now()",
            (owner.id,),
        ).fetchone()
    assert row is not None
    return int(row[0])


async def test_a_user_has_at_most_api_keys_max_per_user_working_keys(
    client: httpx.AsyncClient, alice: Account, database_url: str, settings: Any
) -> None:
    """Finding: keys per user were unlimited (150,000 of them stalled the worker)."""
    limit = settings.api_keys_max_per_user
    assert limit == 100  # the default
    # Revoked and expired keys no longer work: they take no place.
    insert_keys(database_url, alice, 5, state="revoked")
    insert_keys(database_url, alice, 5, state="expired")
    insert_keys(database_url, alice, limit - 1)
    last = await create_key(client, alice, "the last place")

    refused = await client.post(KEYS, json={"name": "one more"}, headers=alice.headers)
    body = problem(refused, 403)
    assert body["type"] == "/problems/api-key-limit"
    assert str(limit) in body["detail"]
    assert "API_KEYS_MAX_PER_USER" in body["detail"]
    assert "revok" in body["detail"]
    assert working_keys(database_url, alice) == limit
    # A key of the user's is refused the same way.
    problem(await client.post(KEYS, json={"name": "child"}, headers=x_api_key(last["key"])), 403)

    assert (await client.delete(f"{KEYS}/{last['id']}", headers=alice.headers)).status_code == 204
    await create_key(client, alice, "in the freed place")
    assert working_keys(database_url, alice) == limit


async def test_concurrent_creations_never_pass_the_limit(
    client: httpx.AsyncClient, alice: Account, database_url: str, settings: Any
) -> None:
    limit = settings.api_keys_max_per_user
    insert_keys(database_url, alice, limit - 3)
    answers = await asyncio.gather(
        *(client.post(KEYS, json={"name": f"racer {n}"}, headers=alice.headers) for n in range(12))
    )
    assert sorted(answer.status_code for answer in answers) == [201] * 3 + [403] * 9
    assert working_keys(database_url, alice) == limit
