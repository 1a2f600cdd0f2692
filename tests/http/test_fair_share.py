"""Fair share (issue 20, item 5): one user cannot take a worker's pool from the others
(PRINCIPAL_MAX_CONCURRENCY), nor fill the disk (ITEMS_MAX_PER_USER)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest

from api.settings import Settings
from tests.conftest import Account, own_app, problem
from tests.database import wait_until_blocked

QUOTA = 3
CONCURRENCY = 2


@pytest.fixture(scope="module")
async def small_pair(settings: Settings) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """An app with a quota of QUOTA items and CONCURRENCY requests in flight per user."""
    async with own_app(
        settings, items_max_per_user=QUOTA, principal_max_concurrency=CONCURRENCY
    ) as pair:
        yield pair


@pytest.fixture
def small_app(small_pair: tuple[Any, httpx.AsyncClient]) -> Any:
    return small_pair[0]


@pytest.fixture
def small(small_pair: tuple[Any, httpx.AsyncClient]) -> httpx.AsyncClient:
    return small_pair[1]


# --- PRINCIPAL_MAX_CONCURRENCY


async def test_one_user_cannot_take_the_pool_from_another(
    small: httpx.AsyncClient,
    small_app: Any,
    alice: Account,
    bob: Account,
    database_url: str,
) -> None:
    """Finding: one user's stuck writes took every pool connection, and every other user got
    503s after a second's wait. Now the user's requests past PRINCIPAL_MAX_CONCURRENCY are
    answered 429 at once, with or without a second credential of the same user, and the others
    are served."""
    limit = CONCURRENCY
    assert limit < small_app.state.settings.db_pool_max_size  # a connection stays for bob
    mine = (await small.post("/api/v1/items", json={"name": "a"}, headers=alice.headers)).json()
    theirs = (await small.post("/api/v1/items", json={"name": "b"}, headers=bob.headers)).json()
    created = await small.post(
        "/api/v1/api-keys", json={"name": "second credential"}, headers=alice.headers
    )
    key_headers = {"X-API-Key": created.json()["key"]}
    url = f"/api/v1/items/{mine['id']}"
    locker = await psycopg.AsyncConnection.connect(database_url)
    await locker.execute("SELECT id FROM items WHERE id = %s FOR UPDATE", (mine["id"],))
    pool_size = small_app.state.settings.db_pool_max_size
    credentials = [alice.headers, key_headers] * pool_size
    stuck = [
        asyncio.ensure_future(small.patch(url, json={"name": f"n{n}"}, headers=credentials[n]))
        for n in range(pool_size)
    ]
    await wait_until_blocked(database_url, limit)

    refused = await asyncio.gather(
        small.get(url, headers=alice.headers), small.get(url, headers=key_headers)
    )
    other = await small.get(f"/api/v1/items/{theirs['id']}", headers=bob.headers)

    await locker.rollback()
    await locker.close()
    done = await asyncio.wait_for(asyncio.gather(*stuck), 10)
    assert other.status_code == 200
    assert sorted(response.status_code for response in done) == (
        [200] * limit + [429] * (pool_size - limit)
    )
    for response in [*refused, *(answer for answer in done if answer.status_code == 429)]:
        body = problem(response, 429)
        assert body["type"] == "/problems/too-many-concurrent-requests"
        assert "PRINCIPAL_MAX_CONCURRENCY" in body["detail"]
        assert response.headers["retry-after"] == "1"
    # Every slot came back: the user works again.
    assert (await small.get(url, headers=alice.headers)).status_code == 200
    assert small_app.state.authenticator.slots.held == {}


async def test_a_refused_credential_takes_no_slot(
    small: httpx.AsyncClient, small_app: Any, alice: Account
) -> None:
    """A request refused for its scope or its credential still gives its slot back."""
    limit = CONCURRENCY
    for _ in range(limit + 1):
        response = await small.post("/api/v1/users", json={}, headers=alice.headers)
        assert response.status_code == 403
    assert small_app.state.authenticator.slots.held == {}
    assert (await small.get("/api/v1/items", headers=alice.headers)).status_code == 200


# --- ITEMS_MAX_PER_USER


async def _count(database_url: str, owner: Account) -> int:
    async with await psycopg.AsyncConnection.connect(database_url) as connection:
        cursor = await connection.execute(
            "SELECT count(*) FROM items WHERE owner_id = %s", (owner.id,)
        )
        row = await cursor.fetchone()
        assert row is not None
        return int(row[0])


def _over_quota(response: httpx.Response) -> None:
    body = problem(response, 403)
    assert body["type"] == "/problems/item-quota"
    assert "ITEMS_MAX_PER_USER" in body["detail"]


async def test_a_user_owns_at_most_items_max_per_user_items(
    small: httpx.AsyncClient, alice: Account, bob: Account, database_url: str
) -> None:
    """Finding: one writer could fill the disk. Every way to create an item is refused with
    403 item-quota at the quota, changing nothing; replacing, deleting and other users' writes
    go on."""
    made = []
    for n in range(QUOTA):
        response = await small.post("/api/v1/items", json={"name": f"i{n}"}, headers=alice.headers)
        assert response.status_code == 201
        made.append(response.json())
    fresh = f"/api/v1/items/{uuid.uuid4()}"
    _over_quota(await small.post("/api/v1/items", json={"name": "x"}, headers=alice.headers))
    keyed = {**alice.headers, "Idempotency-Key": "quota-1"}
    _over_quota(await small.post("/api/v1/items", json={"name": "x"}, headers=keyed))
    _over_quota(await small.put(fresh, json={"name": "x"}, headers=alice.headers))
    _over_quota(
        await small.put(fresh, json={"name": "x"}, headers={**alice.headers, "If-None-Match": "*"})
    )
    batch = [
        {"id": made[0]["id"], "name": "renamed"},
        {"id": str(uuid.uuid4()), "name": "one more"},
    ]
    _over_quota(await small.post("/api/v1/items/batch", json=batch, headers=alice.headers))
    assert await _count(database_url, alice) == QUOTA
    first = await small.get(f"/api/v1/items/{made[0]['id']}", headers=alice.headers)
    assert first.json()["name"] == "i0"  # the refused batch changed nothing

    # At the quota, writes that create nothing go on.
    replaced = await small.put(
        f"/api/v1/items/{made[0]['id']}", json={"name": "replaced"}, headers=alice.headers
    )
    assert replaced.status_code == 200
    updated = await small.post("/api/v1/items/batch", json=batch[:1], headers=alice.headers)
    assert updated.status_code == 200
    assert (await small.post("/api/v1/items", json={"name": "b"}, headers=bob.headers)).is_success
    # A deletion makes room for one.
    deleted = await small.delete(f"/api/v1/items/{made[1]['id']}", headers=alice.headers)
    assert deleted.status_code == 204
    assert (await small.put(fresh, json={"name": "x"}, headers=alice.headers)).status_code == 201
    _over_quota(await small.post("/api/v1/items", json={"name": "x"}, headers=alice.headers))


async def test_item_counts_follow_every_write(
    client: httpx.AsyncClient, alice: Account, bob: Account, database_url: str
) -> None:
    """The per-owner counts the quota reads stay equal to the items each user owns through
    creates, upserts, batches, deletes and a deleted user."""
    ids = [str(uuid.uuid4()) for _ in range(5)]
    batch = [{"id": item_id, "name": f"b{n}"} for n, item_id in enumerate(ids)]
    assert (await client.post("/api/v1/items/batch", json=batch, headers=alice.headers)).is_success
    assert (await client.post("/api/v1/items/batch", json=batch, headers=alice.headers)).is_success
    await client.post("/api/v1/items", json={"name": "one"}, headers=alice.headers)
    await client.put(f"/api/v1/items/{ids[0]}", json={"name": "again"}, headers=alice.headers)
    await client.delete(f"/api/v1/items/{ids[1]}", headers=alice.headers)
    await client.post("/api/v1/items", json={"name": "two"}, headers=bob.headers)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as db:
        counted = await (
            await db.execute("SELECT owner_id, sum(items)::int FROM item_counts GROUP BY owner_id")
        ).fetchall()
        owned = await (
            await db.execute("SELECT owner_id, count(*)::int FROM items GROUP BY owner_id")
        ).fetchall()
        assert dict(counted) == dict(owned) == {alice.id: 5, bob.id: 1}
        await db.execute("DELETE FROM users WHERE id = %s", (bob.id,))
        left = await (await db.execute("SELECT DISTINCT owner_id FROM item_counts")).fetchall()
        assert left == [(alice.id,)]
