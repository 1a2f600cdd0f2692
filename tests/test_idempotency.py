"""Idempotency-Key on POST /api/v1/items and /api/v1/items/batch
(draft-ietf-httpapi-idempotency-key-header): replay, reuse, in-flight, expiry, atomicity."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import psycopg
import pytest

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


async def test_expired_keys_are_forgotten_and_cleaned_up(
    client: httpx.AsyncClient, alice: Account, database_url: str
) -> None:
    first = await client.post(ITEMS, json={"name": "a"}, headers=_keyed(alice))
    stale = await client.post(ITEMS, json={"name": "a"}, headers=_keyed(alice, "other-key"))
    assert stale.status_code == 201
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'")
    again = await client.post(ITEMS, json={"name": "a"}, headers=_keyed(alice))
    assert again.status_code == 201
    assert again.json()["id"] != first.json()["id"]
    # The lookup deleted the other expired key on its way; this key was stored afresh.
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT idempotency_key, expires_at > now() FROM idempotency_keys"
        ).fetchall()
    assert rows == [(KEY.strip('"'), True)]


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
