"""CORS: CORS_ALLOW_ORIGINS, preflights, exposed headers, Vary: Origin, other origins."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import msgspec
import pytest

from api.app import create_app
from api.settings import Settings, SettingsError
from tests.conftest import Account, problem

ITEMS = "/api/v1/items"
ORIGIN = "https://app.example.com"
REQUEST_HEADERS = (
    "authorization, content-type, if-match, if-none-match, idempotency-key, consistency-token,"
    " x-request-id, x-api-key"
)


@pytest.fixture
async def cors_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    configured = msgspec.structs.replace(
        settings,
        cors_allow_origins=f"{ORIGIN}, http://localhost:3000",
        cors_max_age_seconds=900,
    )
    app = create_app(configured)
    await app.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http
    finally:
        await app.stop()


def _listed(value: str) -> set[str]:
    return {part.strip().lower() for part in value.split(",")}


async def test_a_preflight_from_an_allowed_origin_is_204_with_the_policy(
    cors_client: httpx.AsyncClient,
) -> None:
    response = await cors_client.options(
        f"{ITEMS}/0b7e6f2c-5f1e-4c1a-9a55-2f6a3c1f2b10",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "if-match, content-type, authorization",
        },
    )
    assert response.status_code == 204, response.text
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} <= {
        m.upper() for m in _listed(response.headers["access-control-allow-methods"])
    }
    assert _listed(response.headers["access-control-allow-headers"]) == _listed(REQUEST_HEADERS)
    assert response.headers["access-control-max-age"] == "900"
    assert "origin" in _listed(response.headers["vary"])


async def test_a_response_to_an_allowed_origin_exposes_the_headers_a_client_reads(
    cors_client: httpx.AsyncClient, alice: Account
) -> None:
    headers = {"Origin": "http://localhost:3000", **alice.headers}
    created = await cors_client.post(ITEMS, json={"name": "lamp"}, headers=headers)
    assert created.status_code == 201
    assert created.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert _listed(created.headers["access-control-expose-headers"]) == {
        "etag",
        "location",
        "link",
        "retry-after",
        "x-request-id",
        "consistency-token",
    }
    assert "origin" in _listed(created.headers["vary"])
    # Errors too, so that the page can read the problem document.
    refused = await cors_client.get(ITEMS, headers={"Origin": ORIGIN})
    problem(refused, 401)
    assert refused.headers["access-control-allow-origin"] == ORIGIN
    not_allowed = await cors_client.delete(ITEMS, headers={"Origin": ORIGIN})
    problem(not_allowed, 405)
    assert not_allowed.headers["access-control-allow-origin"] == ORIGIN


async def test_another_origin_is_served_without_cors_headers(
    cors_client: httpx.AsyncClient, alice: Account
) -> None:
    response = await cors_client.get(
        ITEMS, headers={"Origin": "https://evil.example", **alice.headers}
    )
    assert response.status_code == 200
    assert not any(name.startswith("access-control-") for name in response.headers)
    assert "origin" in _listed(response.headers["vary"])
    preflight = await cors_client.options(
        ITEMS, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert not any(name.startswith("access-control-") for name in preflight.headers)
    # Finding: another spelling of an allowed origin was a 400 about a header nobody sent.
    for spelling in ("HTTPS://APP.EXAMPLE.COM", "https://App.example.com"):
        other = await cors_client.get(ITEMS, headers={"Origin": spelling, **alice.headers})
        assert other.status_code == 200, (spelling, other.text)
        assert not any(name.startswith("access-control-") for name in other.headers)
    # No Origin at all: a plain request, that a cache must still keep apart by Origin.
    plain = await cors_client.get("/healthz")
    assert "origin" in _listed(plain.headers["vary"])
    assert "access-control-allow-origin" not in plain.headers


async def test_a_preflight_for_a_header_the_api_does_not_read_is_refused(
    cors_client: httpx.AsyncClient,
) -> None:
    response = await cors_client.options(
        ITEMS,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-something-else",
        },
    )
    body = problem(response, 400)
    assert "access-control-allow-origin" not in response.headers
    # Findings: BlackSheep's own text, and none of the headers every other answer has.
    assert body["type"] == "/problems/cors-refused"
    assert "'x-something-else'" in body["detail"]
    assert "Authorization" in body["detail"]
    assert "origin" in _listed(response.headers["vary"])
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-request-id"]


async def test_a_preflight_answer_has_a_request_id_and_nosniff(
    cors_client: httpx.AsyncClient,
) -> None:
    response = await cors_client.options(
        ITEMS,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "X-Request-Id": "preflight-1",
        },
    )
    assert response.status_code == 204
    assert response.headers["x-request-id"] == "preflight-1"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_without_cors_allow_origins_there_are_no_cors_headers(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/healthz", headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert not any(name.startswith("access-control-") for name in response.headers)
    preflight = await client.options(
        ITEMS, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 204
    assert not any(name.startswith("access-control-") for name in preflight.headers)


@pytest.mark.parametrize("bad", ["app.example.com", "https://app.example.com/", "ftp://x.org"])
def test_cors_allow_origins_must_be_origins(bad: str) -> None:
    with pytest.raises(SettingsError, match="CORS_ALLOW_ORIGINS"):
        Settings(cors_allow_origins=f"{ORIGIN},{bad}")
