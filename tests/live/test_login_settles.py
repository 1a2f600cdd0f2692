"""A login's count is decided by its password alone: a request abandoned by its client, past its
budget or cancelled otherwise neither locks the account nor loses a failure, and each failure
that counts is logged as `login_failed` (api/auth/throttle.py)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import psycopg
import pytest
from argon2 import PasswordHasher

from api import logs
from api.auth.throttle import subject_hash
from api.settings import Settings
from queries import auth
from tests.conftest import PASSWORD, Account, MakeUser, own_app, problem
from tests.servers import live_server

TOKEN_URL = "/api/v1/auth/token"
# Verifying a password against this hash takes about half a second: long enough for a client to
# see its attempt reserved and leave while the password is still being checked.
_SLOW = PasswordHasher(time_cost=150, memory_cost=8192, parallelism=1)
_SETTLE_SECONDS = 10.0


def _form(email: str, password: str = PASSWORD) -> dict[str, str]:
    return {"grant_type": "password", "username": email, "password": password}


def _attempts(database_url: str, email: str) -> int | None:
    """The attempts counted against the account `email`; None when none are."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT attempts FROM login_throttle WHERE subject_hash = %s",
            (subject_hash("account", email),),
        ).fetchone()
    return None if row is None else int(row[0])


def _row(database_url: str, email: str) -> tuple[int, str] | None:
    """The account's (attempts, xmin): the row version tells each update apart."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT attempts, xmin::text FROM login_throttle WHERE subject_hash = %s",
            (subject_hash("account", email),),
        ).fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + _SETTLE_SECONDS
    while not check():
        assert time.monotonic() < deadline, f"not within {_SETTLE_SECONDS} s: {what}"
        time.sleep(0.01)


async def _until_async(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + _SETTLE_SECONDS
    while not check():
        assert time.monotonic() < deadline, f"not within {_SETTLE_SECONDS} s: {what}"
        await asyncio.sleep(0.01)


def _add_user(database_url: str, email: str, password_hash: str) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO users (email, password_hash, scopes) VALUES (%s, %s, %s)",
            (email, password_hash, ["items:read"]),
        )


def _open_login(port: int, email: str, password: str = PASSWORD) -> socket.socket:
    """Send a login over a fresh connection and leave its answer unread."""
    body = urlencode(_form(email, password)).encode()
    connection = socket.create_connection(("127.0.0.1", port), timeout=10)
    connection.sendall(
        b"POST /api/v1/auth/token HTTP/1.1\r\nHost: test\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    return connection


def _waiting_on_a_lock(database_url: str) -> bool:
    """Whether a backend of the server waits for a lock this test's transaction holds."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND cardinality(pg_blocking_pids(pid)) > 0"
        ).fetchone()
    return row is not None and row[0] > 0


@pytest.fixture(scope="module")
def port(database_url: str) -> Iterator[int]:
    """A live server where one failure locks an account: one abandoned attempt left counted
    shows as a lock."""
    with live_server(database_url, LOGIN_MAX_FAILURES="1") as port:
        yield port


@pytest.fixture(scope="module")
def slow_hash() -> str:
    return _SLOW.hash(PASSWORD)


def _token(port: int, email: str) -> httpx.Response:
    return httpx.post(f"http://127.0.0.1:{port}{TOKEN_URL}", data=_form(email), timeout=10)


def _abandoned_logins(port: int) -> float:
    """How many logins the server has answered 499 (client gone), from GET /metrics."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    found = re.search(
        r'^http_requests_total\{method="POST",route="/api/v1/auth/token",status="499"\} (\S+)$',
        text,
        re.MULTILINE,
    )
    return 0.0 if found is None else float(found[1])


def _abandon(port: int, connection: socket.socket) -> None:
    """Close `connection` and wait until the server has answered its request 499."""
    before = _abandoned_logins(port)
    connection.close()
    _until(lambda: _abandoned_logins(port) > before, "the server sees the client gone")


def test_a_correct_login_abandoned_while_its_password_is_checked_does_not_lock(
    port: int, database_url: str, slow_hash: str
) -> None:
    """Finding: correct-password logins whose client closed the connection before the answer
    (the server logs 499) stayed counted, and locked the account for LOGIN_WINDOW_SECONDS."""
    email = "slow@example.com"
    _add_user(database_url, email, slow_hash)
    connection = _open_login(port, email)
    _until(lambda: _attempts(database_url, email) == 1, "the attempt is reserved")
    _abandon(port, connection)  # the password is still being checked
    # Cleared by the right password or, when the request was cancelled before the password was
    # checked, given back.
    _until(lambda: _attempts(database_url, email) in (None, 0), "the attempt is not counted")
    assert _token(port, email).status_code == 200


def test_a_correct_login_abandoned_during_its_last_statement_does_not_lock(
    port: int, database_url: str, password_hash: str
) -> None:
    email = "locked-row@example.com"
    _add_user(database_url, email, password_hash)
    with psycopg.connect(database_url) as holder:
        # The row exists, held FOR KEY SHARE: the reservation's upsert goes through, the
        # success's delete waits.
        holder.execute(
            "INSERT INTO login_throttle (subject_hash, attempts, window_started_at)"
            " VALUES (%s, 0, now())",
            (subject_hash("account", email),),
        )
        holder.commit()
        holder.execute(
            "SELECT 1 FROM login_throttle WHERE subject_hash = %s FOR KEY SHARE",
            (subject_hash("account", email),),
        )
        connection = _open_login(port, email)
        _until(lambda: _waiting_on_a_lock(database_url), "the success waits for the lock")
        _abandon(port, connection)
    _until(lambda: _attempts(database_url, email) is None, "the right password clears the count")
    assert _token(port, email).status_code == 200


def test_a_login_abandoned_during_its_reservation_gives_it_back(
    port: int, database_url: str, password_hash: str
) -> None:
    """A reservation statement cancelled with its request may still commit: the attempt is then
    given back, and no password is checked for a client that has gone."""
    email = "reserving@example.com"
    _add_user(database_url, email, password_hash)
    with psycopg.connect(database_url) as holder:
        holder.execute(
            "INSERT INTO login_throttle (subject_hash, attempts, window_started_at)"
            " VALUES (%s, 0, now())",
            (subject_hash("account", email),),
        )
        holder.commit()
        holder.execute(
            "SELECT 1 FROM login_throttle WHERE subject_hash = %s FOR UPDATE",
            (subject_hash("account", email),),
        )
        before = _row(database_url, email)
        connection = _open_login(port, email)
        _until(lambda: _waiting_on_a_lock(database_url), "the reservation waits for the lock")
        _abandon(port, connection)
    assert before is not None

    def given_back() -> bool:  # the row changed twice: counted (1), then given back (0)
        row = _row(database_url, email)
        return row is not None and row[0] == 0 and row[1] != before[1]

    _until(given_back, "the reservation is given back")
    assert _token(port, email).status_code == 200


@pytest.fixture
async def stalling(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An app with a 300 ms budget, in which one failure locks an account."""
    async with own_app(settings, login_max_failures=1, request_timeout_ms=300) as (_, http):
        yield http


@pytest.fixture
async def unhurried(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The same with the usual budget: a login's verification fits it on a loaded machine."""
    async with own_app(settings, login_max_failures=1) as (_, http):
        yield http


async def test_a_correct_login_past_its_budget_in_a_stalled_worker_does_not_count(
    stalling: httpx.AsyncClient,
    unhurried: httpx.AsyncClient,
    database_url: str,
    password_hash: str,
) -> None:
    """Finding: while the worker was stalled ~2 s, another user's correct login timed out (503
    past its request budget) and counted toward that user's lockout."""
    email = "stalled@example.com"
    _add_user(database_url, email, password_hash)
    login = asyncio.create_task(stalling.post(TOKEN_URL, data=_form(email)))
    await _until_async(lambda: _attempts(database_url, email) == 1, "the attempt is reserved")
    assert not login.done()
    time.sleep(0.4)  # the worker stalls past the request's budget  # noqa: ASYNC251
    timed_out = problem(await login, 503)
    assert "budget" in timed_out["detail"]
    await _until_async(
        lambda: _attempts(database_url, email) in (None, 0), "the attempt is not counted"
    )
    # Not locked: the next login succeeds (in a worker whose budget its verification fits).
    assert (await unhurried.post(TOKEN_URL, data=_form(email))).status_code == 200


def _failures(stream: io.BytesIO, user_id: uuid.UUID) -> list[dict[str, Any]]:
    logs.flush()
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    return [
        line
        for line in lines
        if line.get("event") == "login_failed"
        and line.get("logger") == "api.security"
        and line.get("user_id") == str(user_id)
    ]


async def test_every_counted_failure_is_logged(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    log_stream: io.BytesIO,
    database_url: str,
) -> None:
    """Finding: a wrong password whose client left while it was checked was counted toward the
    lockout, and no `login_failed` event told of it."""
    carol: Account = await make_user(f"carol-{uuid.uuid4().hex[:8]}@example.com")
    answered = await client.post(TOKEN_URL, data=_form(carol.email, "wrong password 1"))
    problem(answered, 400)
    request_id = f"left-{uuid.uuid4().hex}"
    leaving = asyncio.create_task(
        client.post(
            TOKEN_URL,
            data=_form(carol.email, "wrong password 2"),
            headers={"X-Request-Id": request_id},
        )
    )
    await _until_async(lambda: _attempts(database_url, carol.email) == 2, "the second is counted")
    leaving.cancel()  # the client leaves while the password is checked
    with contextlib.suppress(asyncio.CancelledError):
        await leaving
    await _until_async(lambda: len(_failures(log_stream, carol.id)) == 2, "both are logged")
    left = [line for line in _failures(log_stream, carol.id) if line["request_id"] == request_id]
    assert len(left) == 1
    assert left[0]["client_address"] == "203.0.113.7"
    assert _attempts(database_url, carol.email) == 2


async def test_a_reservation_given_back_leaves_the_refusals_mark_alone(
    app: Any, database_url: str
) -> None:
    """A counter over its limit holds the limit's reservations and one mark for the attempts it
    refused: giving one reservation back leaves one below the limit, not at it (locked)."""
    account, address = (
        subject_hash("account", "x@example.com"),
        subject_hash("address", "192.0.2.1"),
    )
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO login_throttle (subject_hash, attempts, window_started_at)"
            " VALUES (%s, 6, now()), (%s, 101, now())",
            (account, address),
        )
    await auth.release_login_attempt(app.state.pool, account, 5, address, 100)
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT subject_hash = %s, attempts FROM login_throttle ORDER BY 1", (account,)
        ).fetchall()
    assert rows == [(False, 99), (True, 4)]
