"""Without DATABASE_REPLICA_URLS (the default) the Consistency-Token contract costs nothing:
writes answer none, and reads neither read nor check one (tests/faults/test_replicas.py tests it
with a replica)."""

from __future__ import annotations

import httpx

from tests.conftest import Account

ITEMS = "/api/v1/items"


async def test_without_replicas_no_token_is_issued_or_read(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = await client.post(ITEMS, json={"name": "primary only"}, headers=alice.headers)
    assert created.status_code == 201
    assert "consistency-token" not in created.headers
    item_id = created.json()["id"]
    patched = await client.patch(
        f"{ITEMS}/{item_id}", json={"description": "x"}, headers=alice.headers
    )
    assert "consistency-token" not in patched.headers
    with_garbage = {**alice.headers, "Consistency-Token": "not a token"}
    assert (await client.get(f"{ITEMS}/{item_id}", headers=with_garbage)).status_code == 200
    assert (await client.get(ITEMS, headers=with_garbage)).status_code == 200
    ready = await client.get("/readyz")
    assert "replicas" not in ready.json()
