"""RFC 9110 section 9: HEAD for every GET route, 405 with Allow, OPTIONS with Allow."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Account, problem

ITEMS = "/api/v1/items"


async def _item(client: httpx.AsyncClient, owner: Account) -> str:
    created = await client.post(ITEMS, json={"name": "lamp"}, headers=owner.headers)
    assert created.status_code == 201, created.text
    item_id: str = created.json()["id"]
    return item_id


def _without_per_request(headers: httpx.Headers) -> dict[str, str]:
    skip = {"x-request-id", "server-timing", "date"}
    return {name: value for name, value in headers.items() if name not in skip}


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json", "/docs", "/"])
async def test_head_answers_as_get_without_a_body(client: httpx.AsyncClient, path: str) -> None:
    got = await client.get(path)
    head = await client.head(path)
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert _without_per_request(head.headers) == _without_per_request(got.headers)
    assert head.headers.get_list("content-length") == [str(len(got.content))]


async def test_head_of_an_item_and_of_a_list(client: httpx.AsyncClient, alice: Account) -> None:
    item_id = await _item(client, alice)
    for path in (f"{ITEMS}/{item_id}", ITEMS, "/api/v1/users/me", "/api/v1/api-keys"):
        got = await client.get(path, headers=alice.headers)
        head = await client.head(path, headers=alice.headers)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b"", path
        assert head.headers.get_list("content-length") == [str(len(got.content))], path
        assert head.headers.get("etag") == got.headers.get("etag"), path
        assert head.headers["content-type"] == got.headers["content-type"], path


async def test_head_of_an_error_has_the_error_status_and_no_body(
    client: httpx.AsyncClient, alice: Account
) -> None:
    unauthenticated = await client.head(ITEMS)
    assert unauthenticated.status_code == 401
    assert unauthenticated.content == b""
    assert unauthenticated.headers["content-type"] == "application/problem+json"
    missing = await client.head("/nowhere")
    assert missing.status_code == 404
    assert missing.content == b""


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", ITEMS, "GET, HEAD, POST, OPTIONS"),
        ("PUT", ITEMS, "GET, HEAD, POST, OPTIONS"),
        ("POST", "/healthz", "GET, HEAD, OPTIONS"),
        ("GET", "/api/v1/auth/token", "POST, OPTIONS"),
        (
            "POST",
            f"{ITEMS}/0b7e6f2c-5f1e-4c1a-9a55-2f6a3c1f2b10",
            "GET, HEAD, PUT, PATCH, DELETE, OPTIONS",
        ),
        ("TRACE", "/healthz", "GET, HEAD, OPTIONS"),
        ("GET", f"{ITEMS}/batch", "POST, OPTIONS"),
        ("DELETE", f"{ITEMS}/batch", "POST, OPTIONS"),
        ("DELETE", "/api/v1/users/me", "GET, HEAD, OPTIONS"),
    ],
)
async def test_a_known_path_with_another_method_is_405_with_allow(
    client: httpx.AsyncClient, alice: Account, method: str, path: str, allow: str
) -> None:
    response = await client.request(method, path, headers=alice.headers)
    body = problem(response, 405)
    assert response.headers["allow"] == allow
    assert method in body["detail"]


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        (ITEMS, "GET, HEAD, POST, OPTIONS"),
        (f"{ITEMS}/0b7e6f2c-5f1e-4c1a-9a55-2f6a3c1f2b10", "GET, HEAD, PUT, PATCH, DELETE, OPTIONS"),
        ("/api/v1/users", "POST, OPTIONS"),
        ("/healthz", "GET, HEAD, OPTIONS"),
        (f"{ITEMS}/batch", "POST, OPTIONS"),
    ],
)
async def test_options_answers_allow(client: httpx.AsyncClient, path: str, allow: str) -> None:
    response = await client.options(path)
    assert response.status_code == 204
    assert response.headers["allow"] == allow
    assert response.content == b""


async def test_an_unknown_path_stays_404_for_every_method(client: httpx.AsyncClient) -> None:
    for method in ("GET", "POST", "OPTIONS", "DELETE"):
        problem(await client.request(method, "/api/v1/nothing-here"), 404)
