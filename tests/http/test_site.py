"""Health, readiness, the OpenAPI document, docs, static content and response headers."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import msgspec

from api.app import create_app
from api.settings import Settings
from tests.conftest import Account, problem


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_when_the_database_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["database"] == "reachable"
    assert body["pool"]["state"] == "available"
    assert response.headers["cache-control"] == "no-store"


async def test_readyz_is_503_when_the_database_is_unreachable(settings: Settings) -> None:
    unreachable = msgspec.structs.replace(
        settings, database_url="postgresql://postgres@127.0.0.1:1/none", db_pool_min_size=0
    )
    app = create_app(unreachable)
    await app.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            response = await http.get("/readyz")
            assert problem(response, 503)["reason"] == "database-unreachable"
            assert response.headers["retry-after"] == "1"
            assert (await http.get("/healthz")).status_code == 200
    finally:
        await app.stop()


async def test_openapi_describes_every_route_with_security(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["openapi"].startswith("3.1")
    paths = spec["paths"]
    for path in (
        "/api/v1/items",
        "/api/v1/items/{id}",
        "/api/v1/items/batch",
        "/api/v1/auth/token",
        "/api/v1/users",
        "/api/v1/users/me",
        "/api/v1/api-keys",
        "/api/v1/api-keys/{id}",
        "/healthz",
        "/readyz",
    ):
        assert path in paths, path
    for path, operations in paths.items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            assert operation["responses"], (path, method)
            if path.startswith("/api/v1/") and path != "/api/v1/auth/token":
                assert operation["security"], (path, method)
                assert "401" in operation["responses"], (path, method)
    schemas = spec["components"]["schemas"]
    assert schemas["ItemWrite"]["properties"]["name"]["maxLength"] == 100
    assert schemas["Item"]["properties"]["metadata"]["type"] == "object"
    assert set(spec["components"]["securitySchemes"]) == {"bearer", "apiKey"}
    list_params = {p["name"] for p in paths["/api/v1/items"]["get"]["parameters"]}
    assert list_params == {
        "tags",
        "tags_all",
        "metadata",
        "q",
        "created_after",
        "created_before",
        "sort",
        "fields",
        "limit",
        "cursor",
        "Prefer",
        "Consistency-Token",
    }


async def test_docs_page_loads_the_spec(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in response.text


async def test_home_page_has_etag_cache_control_and_304(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert "<h1>Items API</h1>" in response.text
    assert "max-age" in response.headers["cache-control"]
    etag = response.headers["etag"]
    again = await client.get("/", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""


async def test_static_files_have_etag_and_cache_control(client: httpx.AsyncClient) -> None:
    response = await client.get("/static/site.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert "max-age" in response.headers["cache-control"]
    etag = response.headers["etag"]
    again = await client.get("/static/site.css", headers={"If-None-Match": etag})
    assert again.status_code == 304
    problem(await client.get("/static/missing.css"), 404)
    problem(await client.get("/static/../pyproject.toml"), 404)


async def test_server_timing_reports_database_and_total_time(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.get("/api/v1/items", headers=alice.headers)
    match = re.fullmatch(r"db;dur=([\d.]+), total;dur=([\d.]+)", response.headers["server-timing"])
    assert match is not None
    database, total = float(match.group(1)), float(match.group(2))
    assert 0 < database <= total


async def test_readyz_is_503_while_shutting_down(app: Any, client: httpx.AsyncClient) -> None:
    app.state.shutting_down = True
    try:
        response = await client.get("/readyz")
        body = problem(response, 503)
        assert body["reason"] == "shutting-down"
        assert response.headers["retry-after"] == "1"
        assert (await client.get("/healthz")).status_code == 200
    finally:
        app.state.shutting_down = False


async def test_readyz_is_200_and_busy_while_every_pool_connection_is_taken(
    app: Any, client: httpx.AsyncClient
) -> None:
    pool = app.state.pool
    taken = [await pool.acquire() for _ in range(pool.get_max_size())]
    try:
        response = await asyncio.wait_for(client.get("/readyz"), 5)
        assert response.status_code == 200, response.text
        assert response.json()["pool"]["state"] == "busy"
    finally:
        for connection in taken:
            await pool.release(connection)
