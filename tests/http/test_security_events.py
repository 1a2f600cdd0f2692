"""Security events: one JSON line each, with `event`, the user or key id, the client address and
the request id; never a password, token or key."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
import uuid
from typing import Any

import httpx

from api import logs
from tests.conftest import PASSWORD, Account, ClientAt, MakeUser

TOKEN_URL = "/api/v1/auth/token"
KEYS = "/api/v1/api-keys"
EVENTS = {
    "login_failed",
    "login_throttled",
    "api_key_created",
    "api_key_revoked",
    "user_created",
    "user_disabled",
    "user_enabled",
    "user_unlocked",
}


def events(stream: io.BytesIO, request_id: str | None = None) -> list[dict[str, Any]]:
    logs.flush()
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    return [
        line
        for line in lines
        if line.get("event") in EVENTS
        and line.get("logger") == "api.security"
        and (request_id is None or line.get("request_id") == request_id)
    ]


def traced(request_id: str) -> dict[str, str]:
    return {"X-Request-Id": request_id}


def no_secret(line: dict[str, Any], *secrets: str) -> None:
    text = json.dumps(line)
    for secret in (PASSWORD, *secrets):
        assert secret not in text
    assert "password" not in line
    assert "token" not in line


async def test_failed_and_throttled_logins_are_events(
    client_at: ClientAt, alice: Account, log_stream: io.BytesIO, settings: Any
) -> None:
    client = client_at("198.51.100.31")
    for _ in range(settings.login_max_failures):
        await client.post(
            TOKEN_URL,
            data={"grant_type": "password", "username": alice.email, "password": "wrong guess 1"},
        )
    request_id = f"evt-{uuid.uuid4().hex}"
    await client.post(
        TOKEN_URL,
        data={"grant_type": "password", "username": alice.email, "password": PASSWORD},
        headers=traced(request_id),
    )
    (throttled,) = events(log_stream, request_id)
    assert throttled["event"] == "login_throttled"
    assert throttled["user_id"] == str(alice.id)
    assert throttled["client_address"] == "198.51.100.31"
    assert throttled["limit"] == "account"
    no_secret(throttled, "wrong guess 1")

    failed_id = f"evt-{uuid.uuid4().hex}"
    await client_at("198.51.100.32").post(
        TOKEN_URL,
        data={
            "grant_type": "password",
            "username": "nobody@example.com",
            "password": "wrong guess 2",
        },
        headers=traced(failed_id),
    )
    (failed,) = events(log_stream, failed_id)
    assert failed["event"] == "login_failed"
    assert failed["user_id"] is None  # no such account
    assert failed["client_address"] == "198.51.100.32"
    assert failed["level"] == "warning"
    no_secret(failed, "wrong guess 2")


async def test_a_wrong_password_for_a_real_account_names_it(
    client: httpx.AsyncClient, alice: Account, log_stream: io.BytesIO
) -> None:
    request_id = f"evt-{uuid.uuid4().hex}"
    await client.post(
        TOKEN_URL,
        data={"grant_type": "password", "username": alice.email, "password": "not it at all"},
        headers=traced(request_id),
    )
    (failed,) = events(log_stream, request_id)
    assert failed["event"] == "login_failed"
    assert failed["user_id"] == str(alice.id)
    assert failed["client_address"] == "203.0.113.7"


async def test_key_creation_and_revocation_are_events(
    client: httpx.AsyncClient, alice: Account, log_stream: io.BytesIO
) -> None:
    request_id = f"evt-{uuid.uuid4().hex}"
    made = await client.post(
        KEYS, json={"name": "ci"}, headers={**alice.headers, **traced(request_id)}
    )
    key = made.json()
    (created,) = events(log_stream, request_id)
    assert created["event"] == "api_key_created"
    assert created["key_id"] == key["id"]
    assert created["user_id"] == str(alice.id)
    assert created["client_address"] == "203.0.113.7"
    no_secret(created, key["key"], alice.token)

    child = await client.post(KEYS, json={"name": "child"}, headers={"X-API-Key": key["key"]})
    revoke_id = f"evt-{uuid.uuid4().hex}"
    await client.delete(f"{KEYS}/{key['id']}", headers={**alice.headers, **traced(revoke_id)})
    revoked = events(log_stream, revoke_id)
    assert {line["event"] for line in revoked} == {"api_key_revoked"}
    assert {line["key_id"] for line in revoked} == {key["id"], child.json()["id"]}
    for line in revoked:
        no_secret(line, key["key"], child.json()["key"], alice.token)


async def test_user_creation_through_the_api_is_an_event(
    client: httpx.AsyncClient, admin: Account, log_stream: io.BytesIO
) -> None:
    request_id = f"evt-{uuid.uuid4().hex}"
    made = await client.post(
        "/api/v1/users",
        json={"email": "erin@example.com", "password": "erin's long passphrase"},
        headers={**admin.headers, **traced(request_id)},
    )
    (created,) = events(log_stream, request_id)
    assert created["event"] == "user_created"
    assert created["user_id"] == made.json()["id"]
    assert created["actor_id"] == str(admin.id)
    assert created["client_address"] == "203.0.113.7"
    no_secret(created, "erin's long passphrase", admin.token)


async def cli(
    database_url: str, *args: str, stdin: bytes = b""
) -> tuple[int, str, list[dict[str, Any]]]:
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "api", "users", *args),
        env={**os.environ, "DATABASE_URL": database_url},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(stdin)
    lines = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    assert process.returncode is not None
    return process.returncode, out.decode(), lines


async def test_cli_user_changes_are_events(database_url: str, make_user: MakeUser) -> None:
    code, out, lines = await cli(
        database_url, "create", "frank@example.com", stdin=b"frank's long passphrase\n"
    )
    assert code == 0, out
    assert "items:read,items:write,keys:manage" in out  # keys:manage by default
    (created,) = lines
    assert created["event"] == "user_created"
    no_secret(created, "frank's long passphrase")
    user_id = created["user_id"]
    for action, event in (
        ("disable", "user_disabled"),
        ("enable", "user_enabled"),
        ("unlock", "user_unlocked"),
    ):
        code, out, lines = await cli(database_url, action, "frank@example.com")
        assert code == 0, out
        (line,) = lines
        assert line["event"] == event
        assert line["user_id"] == user_id
        assert "client_address" in line


async def test_cli_refuses_a_common_password(database_url: str) -> None:
    code, _, lines = await cli(database_url, "create", "gina@example.com", stdin=b"password\n")
    assert code != 0
    assert lines == []  # nothing created
