"""Create, read, upsert, patch, delete and bulk upsert of items over HTTP."""

from __future__ import annotations

import uuid

import httpx

from tests.conftest import Account, problem


async def create(client: httpx.AsyncClient, user: Account, **fields: object) -> dict[str, object]:
    body = {"name": "Widget", **fields}
    response = await client.post("/api/v1/items", json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


async def test_create_answers_201_with_location_etag_and_item(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.post(
        "/api/v1/items",
        json={"name": "Test Item", "tags": ["test", "example"]},
        headers=alice.headers,
    )
    assert response.status_code == 201
    item = response.json()
    assert item["name"] == "Test Item"
    assert uuid.UUID(item["id"])
    assert item["tags"] == ["test", "example"]
    assert item["metadata"] == {}
    assert item["description"] is None
    assert item["owner_id"] == str(alice.id)
    assert item["created_at"] == item["updated_at"]
    assert response.headers["location"] == f"/api/v1/items/{item['id']}"
    assert response.headers["etag"].startswith('"')


async def test_get_returns_the_item_with_an_etag_and_304_when_unchanged(
    client: httpx.AsyncClient, alice: Account
) -> None:
    item = await create(client, alice, description="d", metadata={"color": "red", "n": [1, 2]})
    response = await client.get(f"/api/v1/items/{item['id']}", headers=alice.headers)
    assert response.status_code == 200
    assert response.json() == item
    etag = response.headers["etag"]

    cached = await client.get(
        f"/api/v1/items/{item['id']}", headers={**alice.headers, "If-None-Match": etag}
    )
    assert cached.status_code == 304
    assert cached.content == b""
    assert cached.headers["etag"] == etag

    stale = await client.get(
        f"/api/v1/items/{item['id']}", headers={**alice.headers, "If-None-Match": '"0"'}
    )
    assert stale.status_code == 200


async def test_get_unknown_id_is_404_and_malformed_id_is_422(
    client: httpx.AsyncClient, alice: Account
) -> None:
    body = problem(await client.get(f"/api/v1/items/{uuid.uuid4()}", headers=alice.headers), 404)
    assert "no item" in body["detail"]
    body = problem(await client.get("/api/v1/items/not-a-uuid", headers=alice.headers), 422)
    assert body["errors"] == [{"field": "path.id", "message": "must be a UUID"}]
    problem(await client.get("/api/v1/items/1%27%20OR%201=1", headers=alice.headers), 422)


async def test_put_creates_then_replaces(client: httpx.AsyncClient, alice: Account) -> None:
    item_id = uuid.uuid4()
    url = f"/api/v1/items/{item_id}"
    created = await client.put(url, json={"name": "First", "tags": ["a"]}, headers=alice.headers)
    assert created.status_code == 201
    assert created.headers["location"] == url
    assert created.json()["id"] == str(item_id)

    replaced = await client.put(url, json={"name": "Second"}, headers=alice.headers)
    assert replaced.status_code == 200
    body = replaced.json()
    assert body["name"] == "Second"
    assert body["tags"] == []  # a replacement, not a merge
    assert body["created_at"] == created.json()["created_at"]
    assert body["updated_at"] > created.json()["updated_at"]
    assert replaced.headers["etag"] != created.headers["etag"]


async def test_put_honours_if_match(client: httpx.AsyncClient, alice: Account) -> None:
    item = await create(client, alice)
    url = f"/api/v1/items/{item['id']}"
    etag = (await client.get(url, headers=alice.headers)).headers["etag"]

    ok = await client.put(
        url, json={"name": "Matched"}, headers={**alice.headers, "If-Match": etag}
    )
    assert ok.status_code == 200
    assert ok.json()["name"] == "Matched"

    stale = await client.put(
        url, json={"name": "Stale"}, headers={**alice.headers, "If-Match": etag}
    )
    problem(stale, 412)
    assert stale.headers["etag"] == ok.headers["etag"]
    assert (await client.get(url, headers=alice.headers)).json()["name"] == "Matched"

    star = await client.put(url, json={"name": "Any"}, headers={**alice.headers, "If-Match": "*"})
    assert star.status_code == 200

    missing = f"/api/v1/items/{uuid.uuid4()}"
    problem(
        await client.put(missing, json={"name": "x"}, headers={**alice.headers, "If-Match": "*"}),
        412,
    )
    assert (await client.get(missing, headers=alice.headers)).status_code == 404


async def test_patch_changes_only_given_fields(client: httpx.AsyncClient, alice: Account) -> None:
    item = await create(client, alice, description="old", tags=["x"], metadata={"k": 1})
    url = f"/api/v1/items/{item['id']}"
    response = await client.patch(url, json={"tags": ["y", "z"]}, headers=alice.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["tags"] == ["y", "z"]
    assert (body["name"], body["description"], body["metadata"]) == ("Widget", "old", {"k": 1})

    cleared = await client.patch(url, json={"description": None}, headers=alice.headers)
    assert cleared.json()["description"] is None
    assert cleared.json()["tags"] == ["y", "z"]

    problem(await client.patch(url, json={}, headers=alice.headers), 422)
    problem(await client.patch(url, json={"name": None}, headers=alice.headers), 422)
    unknown = f"/api/v1/items/{uuid.uuid4()}"
    problem(await client.patch(unknown, json={"name": "n"}, headers=alice.headers), 404)


async def test_patch_honours_if_match(client: httpx.AsyncClient, alice: Account) -> None:
    item = await create(client, alice)
    url = f"/api/v1/items/{item['id']}"
    problem(
        await client.patch(url, json={"name": "n"}, headers={**alice.headers, "If-Match": '"1"'}),
        412,
    )
    etag = (await client.get(url, headers=alice.headers)).headers["etag"]
    ok = await client.patch(url, json={"name": "n"}, headers={**alice.headers, "If-Match": etag})
    assert ok.status_code == 200


async def test_delete_then_404(client: httpx.AsyncClient, alice: Account) -> None:
    item = await create(client, alice)
    url = f"/api/v1/items/{item['id']}"
    deleted = await client.delete(url, headers=alice.headers)
    assert deleted.status_code == 204
    assert deleted.content == b""
    problem(await client.get(url, headers=alice.headers), 404)
    problem(await client.delete(url, headers=alice.headers), 404)


async def test_batch_upserts_in_order_and_reports_created(
    client: httpx.AsyncClient, alice: Account
) -> None:
    existing = await create(client, alice, name="Before")
    batch = [
        {"name": "New 1", "tags": ["bulk"]},
        {"id": existing["id"], "name": "After", "metadata": {"v": 2}},
        {"id": str(uuid.uuid4()), "name": "New 2"},
    ]
    response = await client.post("/api/v1/items/batch", json=batch, headers=alice.headers)
    assert response.status_code == 200, response.text
    result = response.json()
    assert [entry["created"] for entry in result["items"]] == [True, False, True]
    assert result["items"][1]["id"] == existing["id"]
    assert result["items"][2]["id"] == batch[2]["id"]
    assert (result["created"], result["updated"]) == (2, 1)
    after = await client.get(f"/api/v1/items/{existing['id']}", headers=alice.headers)
    assert after.json()["name"] == "After"
    assert after.json()["metadata"] == {"v": 2}
    first = await client.get(f"/api/v1/items/{result['items'][0]['id']}", headers=alice.headers)
    assert first.json()["tags"] == ["bulk"]


async def test_batch_of_1000_is_accepted_and_1001_refused(
    client: httpx.AsyncClient, alice: Account
) -> None:
    batch = [{"name": f"Item {i}", "tags": ["t"], "metadata": {"i": i}} for i in range(1000)]
    response = await client.post("/api/v1/items/batch", json=batch, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1000

    too_many = [*batch, {"name": "one more"}]
    body = problem(
        await client.post("/api/v1/items/batch", json=too_many, headers=alice.headers), 422
    )
    assert "1000" in body["detail"]


async def test_batch_is_all_or_nothing(client: httpx.AsyncClient, alice: Account) -> None:
    item_id = str(uuid.uuid4())
    bad = [{"id": item_id, "name": "ok"}, {"name": "x" * 101}]
    body = problem(await client.post("/api/v1/items/batch", json=bad, headers=alice.headers), 422)
    assert body["errors"][0]["field"] == "$[1].name"
    duplicate = [{"id": item_id, "name": "a"}, {"id": item_id, "name": "b"}]
    body = problem(
        await client.post("/api/v1/items/batch", json=duplicate, headers=alice.headers), 422
    )
    assert body["errors"][0]["field"] == "$[1].id"
    problem(await client.post("/api/v1/items/batch", json=[], headers=alice.headers), 422)
    problem(await client.get(f"/api/v1/items/{item_id}", headers=alice.headers), 404)
