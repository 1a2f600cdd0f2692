"""Writes that race with a concurrent delete and re-create of the same item (issue 11, item 7).

Without If-Match a client asked for no precondition, so none can fail: an item deleted and
created again while the write waited is a 404 (at the write's moment it did not exist), never
412. With If-Match, the new row is another version: 412 stays right.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import Account, problem
from tests.database import wait_until_blocked


async def _race(
    database_url: str, item: dict[str, Any], write: Any
) -> tuple[httpx.Response, psycopg.AsyncConnection[Any]]:
    """Run `write` while the test deletes the item and creates it again under the same id."""
    locker = await psycopg.AsyncConnection.connect(database_url)
    await locker.execute("SELECT id FROM items WHERE id = %s FOR UPDATE", (item["id"],))
    pending = asyncio.ensure_future(write())
    await wait_until_blocked(database_url)
    await locker.execute("DELETE FROM items WHERE id = %s", (item["id"],))
    await locker.execute(
        "INSERT INTO items (id, name, owner_id) VALUES (%s, 'reborn', %s)",
        (item["id"], item["owner_id"]),
    )
    await locker.commit()
    return await asyncio.wait_for(pending, 10), locker


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
async def test_write_without_if_match_never_fails_a_precondition(
    client: httpx.AsyncClient, alice: Account, database_url: str, method: str
) -> None:
    created = await client.post("/api/v1/items", json={"name": "first"}, headers=alice.headers)
    item = created.json()
    url = f"/api/v1/items/{item['id']}"

    async def write() -> httpx.Response:
        if method == "PATCH":
            return await client.patch(url, json={"name": "changed"}, headers=alice.headers)
        return await client.delete(url, headers=alice.headers)

    response, locker = await _race(database_url, item, write)
    await locker.close()
    problem(response, 404)
    # The write did not touch the new row.
    now = await client.get(url, headers=alice.headers)
    assert now.status_code == 200
    assert now.json()["name"] == "reborn"


async def test_patch_with_if_match_on_a_reborn_item_is_412(
    client: httpx.AsyncClient, alice: Account, database_url: str
) -> None:
    created = await client.post("/api/v1/items", json={"name": "first"}, headers=alice.headers)
    item = created.json()
    url = f"/api/v1/items/{item['id']}"
    etag = created.headers["etag"]

    async def write() -> httpx.Response:
        return await client.patch(
            url, json={"name": "changed"}, headers={**alice.headers, "If-Match": etag}
        )

    response, locker = await _race(database_url, item, write)
    await locker.close()
    problem(response, 412)
