"""Idempotency-Key on POST /api/v1/items and /api/v1/items/batch
(draft-ietf-httpapi-idempotency-key-header): replay, reuse, in-flight, expiry, atomicity."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import httpx
import msgspec
import psycopg
import pytest

from api.app import create_app
from api.settings import Settings
from api.sweeper import SWEEP_BATCH, Sweeper
from tests.conftest import Account, problem

ITEMS = "/api/v1/items"
BATCH = "/api/v1/items/batch"
KEY = '"8e03978e-40d5-43e8-bc93-6894a57f9324"'


def _keyed(owner: Account, key: str = KEY) -> dict[str, str]:
    return {**owner.headers, "Idempotency-Key": key}


def _count(database_url: str, table: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
        assert row is not None
        return int(row[0])


def _replayed_headers(response: httpx.Response) -> dict[str, Any]:
    return {name: response.headers.get(name) for name in ("content-type", "etag", "location")}


async def test_a_retry_gets_the_first_response_without_a_second_write(
    client: httpx.AsyncClient, alice: Account, database_url: str
) -> None:
    body = {"name": "lamp", "tags": ["desk"], "metadata": {"watts": 40}}
    first = await client.post(ITEMS, json=body, headers=_keyed(alice))
    assert first.status_code == 201, first.text
    again = await client.post(ITEMS, json=body, headers=_keyed(alice))
    assert again.status_code == 201
    assert again.content == first.content
    assert _replayed_headers(again) == _replayed_headers(first)
    assert again.headers["location"] == f"{ITEMS}/{first.json()['id']}"
    assert _count(database_url, "items") == 1
    # The key's quoted (Structured Field) and bare spellings are one key.
    bare = await client.post(ITEMS, json=body, headers=_keyed(alice, KEY.strip('"')))
    assert bare.content == first.content
    assert _count(database_url, "items") == 1


async def test_a_batch_retry_gets_the_first_response(
    client: httpx.AsyncClient, alice: Account, database_url: str
) -> None:
    body = [{"name": "a"}, {"name": "b"}]  # ids assigned by the server: a second run differs
    first = await client.post(BATCH, json=body, headers=_keyed(alice))
    assert first.status_code == 200, first.text
    again = await client.post(BATCH, json=body, headers=_keyed(alice))
    assert again.status_code == 200
    assert again.content == first.content
    assert _count(database_url, "items") == 2


async def test_the_same_key_with_another_request_is_422(
    client: httpx.AsyncClient, alice: Account, database_url: str
) -> None:
    assert (await client.post(ITEMS, json={"name": "a"}, headers=_keyed(alice))).status_code == 201
    other = await client.post(ITEMS, json={"name": "b"}, headers=_keyed(alice))
    assert problem(other, 422)["errors"][0]["field"] == "header.Idempotency-Key"
    elsewhere = await client.post(BATCH, json=[{"name": "a"}], headers=_keyed(alice))
    problem(elsewhere, 422)
    assert _count(database_url, "items") == 1


async def test_keys_belong_to_their_principal(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    mine = await client.post(ITEMS, json={"name": "a"}, headers=_keyed(alice))
    theirs = await client.post(ITEMS, json={"name": "a"}, headers=_keyed(bob))
    assert theirs.status_code == 201
    assert theirs.json()["id"] != mine.json()["id"]
    assert theirs.json()["owner_id"] == str(bob.id)


async def test_the_same_key_while_the_first_request_runs_is_409(
    client: httpx.AsyncClient, alice: Account, database_url: str
) -> None:
    body = {"name": "slow"}
    with psycopg.connect(database_url) as blocker:
        # Hold the first request inside its write: inserts wait for this lock.
        blocker.execute("LOCK TABLE items IN EXCLUSIVE MODE")
        first = asyncio.create_task(client.post(ITEMS, json=body, headers=_keyed(alice)))
        for _ in range(200):
            await asyncio.sleep(0.01)
            with psycopg.connect(database_url) as watcher:
                waiting = watcher.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                ).fetchone()
            if waiting is not None and waiting[0] > 0:
                break
        second = await client.post(ITEMS, json=body, headers=_keyed(alice))
        body_409 = problem(second, 409)
        assert second.headers["retry-after"] == "1"
        assert "still running" in body_409["detail"]
        blocker.rollback()
    done = await first
    assert done.status_code == 201, done.text
    third = await client.post(ITEMS, json=body, headers=_keyed(alice))
    assert third.content == done.content
    assert _count(database_url, "items") == 1


async def test_a_refused_write_stores_no_key(
    client: httpx.AsyncClient, alice: Account, bob: Account, database_url: str
) -> None:
    bobs = await client.post(ITEMS, json={"name": "bob's"}, headers=bob.headers)
    body = [{"id": bobs.json()["id"], "name": "taken over"}]
    problem(await client.post(BATCH, json=body, headers=_keyed(alice)), 403)
    assert _count(database_url, "idempotency_keys") == 0
    await client.delete(f"{ITEMS}/{bobs.json()['id']}", headers=bob.headers)
    retried = await client.post(BATCH, json=body, headers=_keyed(alice))
    assert retried.status_code == 200, retried.text  # run again, not a replayed 403
    assert retried.json()["created"] == 1


async def test_an_expired_key_is_forgotten(
    client: httpx.AsyncClient, alice: Account, database_url: str
) -> None:
    first = await client.post(ITEMS, json={"name": "a"}, headers=_keyed(alice))
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'")
    again = await client.post(ITEMS, json={"name": "a"}, headers=_keyed(alice))
    assert again.status_code == 201
    assert "idempotency-replayed" not in again.headers
    assert again.json()["id"] != first.json()["id"]
    with psycopg.connect(database_url) as conn:  # stored afresh
        rows = conn.execute(
            "SELECT idempotency_key, expires_at > now() FROM idempotency_keys"
        ).fetchall()
    assert rows == [(KEY.strip('"'), True)]


async def test_expired_keys_are_swept_without_any_keyed_request(
    settings: Settings, client: httpx.AsyncClient, alice: Account, database_url: str
) -> None:
    """Finding: expired records were deleted only on the way of a keyed request, so with unique
    keys and few keyed requests the table grew without bound."""
    for key in ("old", "live"):
        created = await client.post(ITEMS, json={"name": key}, headers=_keyed(alice, key))
        assert created.status_code == 201
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE idempotency_keys SET expires_at = now() - interval '1 second'"
            " WHERE idempotency_key = 'old'"
        )
    sweeping = create_app(msgspec.structs.replace(settings, sweep_seconds=0.05))
    await sweeping.start()
    try:
        deadline = time.monotonic() + 10
        while _keys(database_url) != ["live"]:
            assert time.monotonic() < deadline, _keys(database_url)
            await asyncio.sleep(0.05)
    finally:
        await sweeping.stop()


async def test_a_sweep_deletes_every_expired_row_in_batches(
    app: Any, alice: Account, database_url: str
) -> None:
    """Expired keys and login counters of ended windows, each more than one batch of them, go;
    a live key and a counter of a running window stay."""
    count = SWEEP_BATCH * 2 + 7
    window = _login_window(app)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO idempotency_keys"
            " (principal_id, idempotency_key, fingerprint, status, headers, body, expires_at)"
            " SELECT %s, 'k' || n, decode(repeat('00', 32), 'hex'), 201, '[]', '',"
            " now() + interval '1 second' * CASE WHEN n = 0 THEN 3600 ELSE -n END"
            " FROM generate_series(0, %s) AS n",
            (alice.id, count),
        )
        conn.execute(
            "INSERT INTO login_throttle (subject_hash, attempts, window_started_at)"
            " SELECT sha256(n::text::bytea), 1,"
            " now() - interval '1 second' * CASE WHEN n = 0 THEN %s - 60 ELSE %s + n END"
            " FROM generate_series(0, %s) AS n",
            (window, window, count),
        )
    assert await Sweeper(app.state.pool, 60, window).sweep() == count * 2
    assert _keys(database_url) == ["k0"]  # live for an hour
    with psycopg.connect(database_url) as conn:  # the window of n = 0 has a minute to run
        row = conn.execute("SELECT count(*) FROM login_throttle").fetchone()
    assert row is not None
    assert row[0] == 1


def _login_window(app: Any) -> int:
    window: int = app.state.settings.login_window_seconds
    return window


def _keys(database_url: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT idempotency_key FROM idempotency_keys ORDER BY 1").fetchall()
    return [row[0] for row in rows]


async def test_a_replay_says_it_is_one_even_after_the_item_is_gone(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """Finding: after the item was deleted, a replay still answered 201 with its stale ETag and
    Location, indistinguishable from a first answer."""
    body = {"name": "gone soon"}
    first = await client.post(ITEMS, json=body, headers=_keyed(alice))
    assert first.status_code == 201
    assert "idempotency-replayed" not in first.headers
    deleted = await client.delete(first.headers["location"], headers=alice.headers)
    assert deleted.status_code == 204
    again = await client.post(ITEMS, json=body, headers=_keyed(alice))
    assert again.status_code == 201
    assert again.headers["idempotency-replayed"] == "true"
    assert again.content == first.content  # the stored answer, as it was
    assert _replayed_headers(again) == _replayed_headers(first)
    batch = [{"name": "b"}]
    first_batch = await client.post(BATCH, json=batch, headers=_keyed(alice, "batch-key"))
    assert "idempotency-replayed" not in first_batch.headers
    again_batch = await client.post(BATCH, json=batch, headers=_keyed(alice, "batch-key"))
    assert again_batch.headers["idempotency-replayed"] == "true"


async def test_without_the_header_every_post_writes(
    client: httpx.AsyncClient, alice: Account, database_url: str
) -> None:
    for _ in range(2):
        assert (
            await client.post(ITEMS, json={"name": "a"}, headers=alice.headers)
        ).status_code == 201
    assert _count(database_url, "items") == 2
    assert _count(database_url, "idempotency_keys") == 0


@pytest.mark.parametrize(
    "key", ['"unterminated', '"a" "b"', "two words", '"' + "k" * 256 + '"', '""', 'a"b']
)
async def test_a_malformed_key_is_422(client: httpx.AsyncClient, alice: Account, key: str) -> None:
    response = await client.post(ITEMS, json={"name": "a"}, headers=_keyed(alice, key))
    assert problem(response, 422)["errors"][0]["field"] == "header.Idempotency-Key"


async def test_two_key_lines_are_422(client: httpx.AsyncClient, alice: Account) -> None:
    headers = [*alice.headers.items(), ("Idempotency-Key", "a"), ("Idempotency-Key", "b")]
    problem(await client.post(ITEMS, json={"name": "a"}, headers=headers), 422)


async def test_the_documented_key_rule_is_the_servers(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """Finding: the OpenAPI document allowed 257 characters and `""`; the server refuses more
    than 255 once unquoted, and `""`. The schema's bounds and pattern are now the server's rule:
    each value below is accepted by both or refused by both."""
    spec = (await client.get("/openapi.json")).json()
    (parameter,) = [
        parameter
        for parameter in spec["paths"]["/api/v1/items"]["post"]["parameters"]
        if parameter["name"] == "Idempotency-Key"
    ]
    schema = parameter["schema"]
    longest = '"' + '\\"' * 255 + '"'  # 255 escaped characters, quoted
    cases = {
        "": False,
        '""': False,
        "a": True,
        "b" * 255: True,
        "c" * 256: False,
        '"' + "d" * 255 + '"': True,
        '"' + "e" * 256 + '"': False,
        longest: True,
        longest[:-1] + 'f"': False,  # one character more than the longest
        '"g h"': True,
        "g h": False,
        'g"h': False,
        "\\": True,
        '"\\"': False,
        '"\\\\"': True,
    }
    assert len(longest) == schema["maxLength"]
    assert len(longest[:-1] + 'f"') == schema["maxLength"] + 1
    assert min(len(value) for value, ok in cases.items() if ok) == schema["minLength"]
    for value, accepted in cases.items():
        documented = (
            schema["minLength"] <= len(value) <= schema["maxLength"]
            and re.search(schema["pattern"], value) is not None
        )
        assert documented == accepted, value
        response = await client.post(ITEMS, json={"name": "k"}, headers=_keyed(alice, value))
        assert response.status_code == (201 if accepted else 422), (value, response.text)
