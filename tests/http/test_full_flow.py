"""The whole identity flow with the real CLI: create a user, log in, use and revoke an API key,
disable the user."""

from __future__ import annotations

import asyncio
import os
import pty
import select
import sys
import time
from typing import Any

import httpx
import psycopg

from tests import ROOT
from tests.conftest import problem
from tests.servers import service_env

EMAIL = "Founder@Example.com"
SECRET = "the first admin's long password"


async def run_cli(database_url: str, *args: str, stdin: str = "") -> tuple[int, str, str]:
    """`python -m api ARGS` against the test database, with `stdin` piped in (so not a tty)."""
    env = service_env(database_url)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api",
        *args,
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_cli_user_token_item_api_key_revoke_and_disable(
    client: httpx.AsyncClient, app: Any, database_url: str
) -> None:
    # 1. The first admin is made without the API, the password read from stdin.
    code, out, err = await run_cli(
        database_url,
        "users",
        "create",
        EMAIL,
        "--scopes",
        "items:read,items:write,admin",
        stdin=SECRET + "\n",
    )
    assert code == 0, err
    assert "founder@example.com" in out
    assert SECRET not in out + err

    # Creating the same user again (any case) fails without changing anything.
    code, _, err = await run_cli(database_url, "users", "create", EMAIL.upper(), stdin=SECRET)
    assert code != 0
    assert "exists" in err

    # 2. A token by the OAuth2 password grant.
    response = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": EMAIL, "password": SECRET},
    )
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert response.json()["scope"] == "admin items:read items:write"
    auth = {"Authorization": f"Bearer {token}"}

    # 3. An item created with the token.
    created = await client.post("/api/v1/items", json={"name": "First"}, headers=auth)
    assert created.status_code == 201, created.text
    item = created.json()
    me = (await client.get("/api/v1/users/me", headers=auth)).json()
    assert item["owner_id"] == me["id"]

    # 4. Read back with an API key.
    key = await client.post(
        "/api/v1/api-keys", json={"name": "reader", "scopes": ["items:read"]}, headers=auth
    )
    assert key.status_code == 201, key.text
    secret = key.json()["key"]
    read = await client.get(f"/api/v1/items/{item['id']}", headers={"X-API-Key": secret})
    assert read.status_code == 200
    assert read.json() == item

    # 5. Revoke the key: refused at once.
    revoked = await client.delete(f"/api/v1/api-keys/{key.json()['id']}", headers=auth)
    assert revoked.status_code == 204
    refused = await client.get(f"/api/v1/items/{item['id']}", headers={"X-API-Key": secret})
    problem(refused, 401)
    assert refused.headers["www-authenticate"].startswith("Bearer")

    # 6. Disable the user by CLI: the token and the user's keys stop working.
    second = await client.post("/api/v1/api-keys", json={"name": "second"}, headers=auth)
    second_key = second.json()["key"]
    assert (await client.get("/api/v1/items", headers={"X-API-Key": second_key})).status_code == 200

    code, out, err = await run_cli(database_url, "users", "disable", EMAIL)
    assert code == 0, err
    assert "disabled" in out
    # The authenticator caches an enabled user (and a live key) for at most AUTH_CACHE_SECONDS
    # per process, the documented bound for a disabled user to be refused. Clearing the caches
    # here stands for that bound passing, so the test does not sleep.
    app.state.authenticator.forget_everything()
    app.state.authenticator.forget_everything()
    problem(await client.get("/api/v1/items", headers=auth), 401)
    problem(await client.get("/api/v1/items", headers={"X-API-Key": second_key}), 401)
    login = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": EMAIL, "password": SECRET},
    )
    assert problem(login, 400)["error"] == "invalid_grant"

    # 7. Enabled again, the user logs in again.
    code, _, err = await run_cli(database_url, "users", "enable", EMAIL)
    assert code == 0, err
    again = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": EMAIL, "password": SECRET},
    )
    assert again.status_code == 200, again.text


async def test_cli_refuses_bad_input_and_unknown_users(database_url: str, app: Any) -> None:
    code, _, err = await run_cli(
        database_url, "users", "create", "x@example.com", "--scopes", "root", stdin=SECRET
    )
    assert code == 2
    assert "scopes" in err
    code, _, err = await run_cli(database_url, "users", "create", "x@example.com", stdin="short")
    assert code == 2
    assert "password" in err
    code, _, err = await run_cli(database_url, "users", "disable", "nobody@example.com")
    assert code == 1
    assert "no user" in err
    async with app.state.pool.acquire() as connection:
        assert await connection.fetchval("SELECT count(*) FROM users") == 0


async def test_cli_on_a_missing_database_explains_instead_of_a_traceback(
    database_url: str,
) -> None:
    missing = database_url.rsplit("/", 1)[0] + "/items_test_does_not_exist"
    code, _, err = await run_cli(missing, "users", "create", "x@example.com", stdin=SECRET)
    assert code == 1
    assert "does not exist" in err
    assert "migrate up" in err
    assert "Traceback" not in err
    assert SECRET not in err


def _read_until(fd: int, marker: bytes, deadline: float) -> bytes:
    """Read from the terminal until `marker` shows up (or the child closes it)."""
    seen = b""
    while marker not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"timed out waiting for {marker!r}; got {seen!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 1024)
        except OSError:  # EIO: the child has closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    return seen


def run_cli_on_a_terminal(database_url: str, args: list[str], typed: list[str]) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as its controlling terminal, typing each of `typed`
    after a password prompt; answer its exit code and everything it showed."""
    env = service_env(database_url)
    pid, fd = pty.fork()
    if pid == 0:  # the child: become the CLI
        try:
            os.chdir(ROOT)
            os.execve(sys.executable, [sys.executable, "-m", "api", *args], env)  # noqa: S606
        finally:
            os._exit(127)
    deadline = time.monotonic() + 60
    shown = b""
    try:
        for text in typed:
            shown += _read_until(fd, b"assword: ", deadline)
            os.write(fd, text.encode() + b"\n")
        shown += _read_until(fd, b"\x00never\x00", deadline)  # everything until it exits
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


def count_users(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM users").fetchone()
    assert row is not None
    return int(row[0])


def test_cli_on_a_terminal_asks_for_the_password_twice(database_url: str) -> None:
    args = ["users", "create", "tty@example.com", "--scopes", "items:read"]

    code, shown = run_cli_on_a_terminal(database_url, args, [SECRET, SECRET + " typo"])
    assert code != 0
    assert "differ" in shown
    assert count_users(database_url) == 0

    code, shown = run_cli_on_a_terminal(database_url, args, [SECRET, SECRET])
    assert code == 0, shown
    assert shown.count("assword: ") == 2  # "Password: " and "Repeat password: "
    assert "created user tty@example.com" in shown
    assert SECRET not in shown  # the terminal does not echo what is typed
    assert count_users(database_url) == 1
