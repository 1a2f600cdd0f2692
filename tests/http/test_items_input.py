"""Bad input of every kind gets a specific problem document and changes nothing."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.conftest import Account, problem


async def count_items(client: httpx.AsyncClient, user: Account) -> int:
    response = await client.get("/api/v1/items?limit=200", headers=user.headers)
    return len(response.json())


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 123}, "$.name"),
        ({"name": ""}, "$.name"),
        ({"name": "x" * 101}, "$.name"),
        ({"name": "nul\u0000byte"}, "$.name"),
        ({}, "$.name"),  # the missing field itself
        ({"name": "ok", "description": 5}, "$.description"),
        ({"name": "ok", "description": "nul\u0000"}, "$.description"),
        ({"name": "ok", "tags": "solo"}, "$.tags"),
        ({"name": "ok", "tags": [1]}, "$.tags[0]"),
        ({"name": "ok", "tags": ["a,b"]}, "$.tags[0]"),
        ({"name": "ok", "tags": [""]}, "$.tags[0]"),
        ({"name": "ok", "tags": ["t"] * 65}, "$.tags"),
        ({"name": "ok", "metadata": [1, 2]}, "$.metadata"),
        ({"name": "ok", "metadata": "red"}, "$.metadata"),
        ({"name": "ok", "colour": "red"}, "$.colour"),
        ({"name": "ok", "id": str(uuid.uuid4())}, "$.id"),
        ([{"name": "ok"}], "$"),
    ],
)
async def test_invalid_bodies_are_422_naming_the_field(
    client: httpx.AsyncClient, alice: Account, body: object, field: str
) -> None:
    response = await client.post("/api/v1/items", json=body, headers=alice.headers)
    document = problem(response, 422)
    assert document["errors"][0]["field"] == field
    assert field in document["detail"]
    assert await count_items(client, alice) == 0


async def test_nul_inside_metadata_is_422_naming_metadata(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.post(
        "/api/v1/items", json={"name": "ok", "metadata": {"k": "a\u0000b"}}, headers=alice.headers
    )
    assert problem(response, 422)["errors"][0]["field"] == "$.metadata"
    assert await count_items(client, alice) == 0


@pytest.mark.parametrize("raw", [b"{", b'{"name": "x",}', b"", b"nul", b'{"name": "\xff"}'])
async def test_malformed_json_is_400(client: httpx.AsyncClient, alice: Account, raw: bytes) -> None:
    response = await client.post(
        "/api/v1/items",
        content=raw,
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert problem(response, 400)["type"] == "/problems/malformed-json"
    assert await count_items(client, alice) == 0


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
async def test_non_json_body_is_415(
    client: httpx.AsyncClient, alice: Account, content_type: str | None
) -> None:
    headers = dict(alice.headers)
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = await client.post("/api/v1/items", content=b'{"name": "x"}', headers=headers)
    problem(response, 415)
    assert await count_items(client, alice) == 0


async def test_json_with_charset_and_suffix_media_types_are_accepted(
    client: httpx.AsyncClient, alice: Account
) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = await client.post(
            "/api/v1/items",
            content=b'{"name": "x"}',
            headers={**alice.headers, "Content-Type": content_type},
        )
        assert response.status_code == 201, content_type


async def test_oversize_body_is_413(client: httpx.AsyncClient, alice: Account) -> None:
    big = {"name": "big", "description": "x" * 9000, "metadata": {"blob": "y" * 70_000}}
    problem(await client.post("/api/v1/items", json=big, headers=alice.headers), 413)

    async def chunks() -> object:  # no Content-Length: the limit holds while streaming
        for _ in range(20):
            yield b" " * 4096

    streamed = await client.post(
        "/api/v1/items",
        content=chunks(),  # type: ignore[arg-type]
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    problem(streamed, 413)
    assert await count_items(client, alice) == 0


async def test_bad_ids_in_paths_are_422(client: httpx.AsyncClient, alice: Account) -> None:
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        response = await client.request(
            method, "/api/v1/items/12345", json={"name": "x"}, headers=alice.headers
        )
        assert problem(response, 422)["errors"][0]["field"] == "path.id"


async def test_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    problem(await client.get("/api/v2/items"), 404)
