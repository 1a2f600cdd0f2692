"""The access log: one JSON line per request, with the principal; and no secret in any log."""

from __future__ import annotations

import io
import json
import re
import uuid
from typing import Any

import httpx
import pytest

from api import logs
from tests.conftest import PASSWORD, Account


def log_lines(stream: io.BytesIO) -> list[dict[str, Any]]:
    logs.flush()
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def access_line(stream: io.BytesIO, request_id: str) -> dict[str, Any]:
    lines = [
        line
        for line in log_lines(stream)
        if line.get("event") == "request" and line.get("request_id") == request_id
    ]
    assert len(lines) == 1, lines
    return lines[0]


async def test_access_line_records_the_request_and_the_principal(
    client: httpx.AsyncClient, alice: Account, log_stream: io.BytesIO
) -> None:
    request_id = f"test-{uuid.uuid4().hex}"
    response = await client.get(
        "/api/v1/items?limit=5", headers={**alice.headers, "X-Request-Id": request_id}
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == request_id

    line = access_line(log_stream, request_id)
    assert line["method"] == "GET"
    assert line["path"] == "/api/v1/items"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], int | float)
    assert line["duration_ms"] >= 0
    assert line["principal"] == str(alice.id)
    assert line["level"] == "info"
    assert "timestamp" in line


async def test_refused_requests_are_logged_without_a_principal(
    client: httpx.AsyncClient, log_stream: io.BytesIO
) -> None:
    request_id = f"test-{uuid.uuid4().hex}"
    response = await client.get("/api/v1/items", headers={"X-Request-Id": request_id})
    assert response.status_code == 401
    line = access_line(log_stream, request_id)
    assert line["status"] == 401
    assert "principal" not in line


async def test_a_principal_does_not_leak_into_the_next_request(
    client: httpx.AsyncClient, alice: Account, log_stream: io.BytesIO
) -> None:
    assert (await client.get("/api/v1/items", headers=alice.headers)).status_code == 200
    anonymous = f"test-{uuid.uuid4().hex}"
    await client.get("/healthz", headers={"X-Request-Id": anonymous})
    assert "principal" not in access_line(log_stream, anonymous)


@pytest.mark.parametrize(
    "given", [None, "", "has spaces", "x" * 129, 'bad"quote', "line\x7fbreak", "ünïcode"]
)
async def test_a_request_id_is_generated_when_absent_or_invalid(
    app: Any, log_stream: io.BytesIO, given: str | None
) -> None:
    transport = httpx.ASGITransport(app=app)
    headers = [] if given is None else [(b"x-request-id", given.encode())]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/healthz", headers=headers)
    generated = response.headers["x-request-id"]
    assert generated != given
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert access_line(log_stream, generated)["path"] == "/healthz"


async def test_no_secret_ever_reaches_the_logs(
    client: httpx.AsyncClient, alice: Account, log_stream: io.BytesIO
) -> None:
    wrong_password = f"wrong-{uuid.uuid4().hex}"
    secrets: list[str] = [PASSWORD, wrong_password, alice.token]

    good = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": alice.email, "password": PASSWORD},
    )
    assert good.status_code == 200
    token = good.json()["access_token"]
    secrets.append(token)
    bad = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": alice.email, "password": wrong_password},
    )
    assert bad.status_code == 400

    auth = {"Authorization": f"Bearer {token}"}
    key = (await client.post("/api/v1/api-keys", json={"name": "k"}, headers=auth)).json()
    secrets.append(key["key"])
    for headers in (
        {"X-API-Key": key["key"]},
        {"Authorization": f"Bearer {key['key']}"},
        {"Authorization": f"Bearer {token}x"},  # wrongly signed, logged as a refusal
        {"X-API-Key": key["key"] + "x"},  # an unknown key
    ):
        await client.get("/api/v1/items", headers=headers)
    # Secrets in a query string are not logged either (the path alone is).
    await client.get(f"/api/v1/items?access_token={token}&api_key={key['key']}", headers=auth)
    await client.delete(f"/api/v1/api-keys/{key['id']}", headers=auth)
    await client.get("/api/v1/items", headers={"X-API-Key": key["key"]})
    created = await client.post(
        "/api/v1/users",
        json={"email": "new@example.com", "password": "new user's password"},
        headers=alice.headers,
    )
    assert created.status_code == 403
    secrets.append("new user's password")

    logs.flush()
    captured = log_stream.getvalue().decode()
    assert captured  # the requests above were logged
    for secret in secrets:
        assert secret not in captured
        # Not even a fragment long enough to matter: the signature of a JWT, a key without prefix.
        assert secret.rsplit(".", 1)[-1].removeprefix("itk_")[:16] not in captured
    assert "$argon2" not in captured
