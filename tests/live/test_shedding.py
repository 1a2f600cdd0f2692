"""Load shedding by the protocol, against a live `python -m api serve` over real sockets: past
MAX_CONCURRENT_REQUESTS in flight, a request is answered 503 before it reaches the app, and the
answer is framed like any other (keep-alive, HEAD, HTTP/1.0, pipelining, CORS, probes)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from typing import BinaryIO

import httpx
import psycopg
import pytest

from api.refusals import SHED_DETAIL
from tests.conftest import Account
from tests.database import wait_until_blocked
from tests.servers import live_server

ORIGIN = "https://app.example"
LIMIT = 2


@pytest.fixture(scope="module")
def port(database_url: str) -> Iterator[int]:
    with live_server(
        database_url,
        MAX_CONCURRENT_REQUESTS=str(LIMIT),
        REQUEST_TIMEOUT_MS="10000",
        CORS_ALLOW_ORIGINS=ORIGIN,
    ) as port:
        yield port


@pytest.fixture
def connection(port: int) -> Iterator[socket.socket]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        yield connection


@pytest.fixture
def answers(connection: socket.socket) -> BinaryIO:
    """What the server answers on `connection`, read by read_answer()."""
    return connection.makefile("rb")


AtTheLimit = Callable[[], AbstractContextManager[None]]


@pytest.fixture
def at_the_limit(port: int, alice: Account, database_url: str) -> AtTheLimit:
    """`with at_the_limit():` LIMIT requests are in flight in the server."""
    return partial(full, port, alice, database_url)


@contextmanager
def full(port: int, alice: Account, database_url: str) -> Iterator[None]:
    """LIMIT requests in flight, each waiting for a lock on the items table until the block
    ends; then they are answered 200."""
    answers: list[int] = []
    with psycopg.connect(database_url) as locker:
        locker.execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")

        def list_items() -> None:
            with httpx.Client(timeout=30) as http:
                answers.append(
                    http.get(
                        f"http://127.0.0.1:{port}/api/v1/items?limit=1", headers=alice.headers
                    ).status_code
                )

        waiting = [threading.Thread(target=list_items) for _ in range(LIMIT)]
        for thread in waiting:
            thread.start()
        asyncio.run(wait_until_blocked(database_url, LIMIT))
        try:
            yield
        finally:
            locker.rollback()
            for thread in waiting:
                thread.join(timeout=30)
    assert answers == [200] * LIMIT


def read_answer(stream: BinaryIO, *, head: bool = False) -> tuple[int, dict[str, str], bytes]:
    """The next answer on a kept-alive connection: status, headers and body (none for HEAD). An
    answer framed wrong (a body after HEAD, a wrong length) shows in the answer read next."""
    status_line = stream.readline().decode("latin-1")
    assert status_line.startswith("HTTP/1.1 "), f"not an answer: {status_line!r}"
    headers = {}
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = b"" if head else stream.read(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


def request(path: str, alice: Account, method: str = "GET", extra: str = "") -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: t\r\n"
        f"Authorization: {alice.headers['Authorization']}\r\n{extra}\r\n"
    ).encode()


def assert_shed(answer: tuple[int, dict[str, str], bytes]) -> dict[str, str]:
    status, headers, body = answer
    assert status == 503, answer
    assert headers["content-type"] == "application/problem+json"
    assert headers["retry-after"] == "1"
    assert headers["cache-control"] == "no-store"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["date"].endswith(" GMT")
    if body:
        assert json.loads(body)["detail"] == SHED_DETAIL
    return headers


def shed_total(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    found = re.search(r"^http_requests_shed_total (\S+)$", text, re.MULTILINE)
    return float(found[1]) if found else 0.0


def test_a_request_past_the_limit_is_shed_and_its_connection_kept(
    port: int,
    alice: Account,
    at_the_limit: AtTheLimit,
    connection: socket.socket,
    answers: BinaryIO,
) -> None:
    item = f"/api/v1/items/{uuid.uuid4()}"
    before = shed_total(port)
    with at_the_limit():
        connection.sendall(request(item, alice))
        headers = assert_shed(read_answer(answers))
        assert "connection" not in headers  # kept alive
        connection.sendall(request(item, alice, "HEAD"))
        status, headers, body = read_answer(answers, head=True)
        assert_shed((status, headers, body))
        assert int(headers["content-length"]) > 0
        assert body == b""
        # Two requests in one send: two answers, in order, then the next is still read.
        connection.sendall(request(item, alice) * 2)
        assert_shed(read_answer(answers))
        assert_shed(read_answer(answers))
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_answer(answers)[0] == 200  # probes are never shed
    # Load gone: the same connection is served again.
    connection.sendall(request(item, alice))
    assert read_answer(answers)[0] == 404
    deadline = time.monotonic() + 10
    while shed_total(port) < before + 4 and time.monotonic() < deadline:
        time.sleep(0.2)  # each worker publishes its counts every PUBLISH_SECONDS
    assert shed_total(port) >= before + 4


def test_a_shed_http_1_0_request_closes_its_connection(
    alice: Account, at_the_limit: AtTheLimit, connection: socket.socket, answers: BinaryIO
) -> None:
    with at_the_limit():
        connection.sendall(
            f"GET /api/v1/items/{uuid.uuid4()} HTTP/1.0\r\n"
            f"Authorization: {alice.headers['Authorization']}\r\n\r\n".encode()
        )
        headers = assert_shed(read_answer(answers))
        assert headers["connection"] == "close"
        assert answers.read(1) == b""


def test_a_shed_cross_origin_request_keeps_its_cors_headers(
    alice: Account, at_the_limit: AtTheLimit, connection: socket.socket, answers: BinaryIO
) -> None:
    with at_the_limit():
        connection.sendall(request("/api/v1/items?limit=1", alice, extra=f"Origin: {ORIGIN}\r\n"))
        headers = assert_shed(read_answer(answers))
        assert headers.get("access-control-allow-origin") == ORIGIN, headers


def test_a_shed_write_changes_nothing(
    alice: Account,
    database_url: str,
    at_the_limit: AtTheLimit,
    connection: socket.socket,
    answers: BinaryIO,
) -> None:
    body = json.dumps({"name": "shed"}).encode()
    with at_the_limit():
        connection.sendall(
            request(
                "/api/v1/items",
                alice,
                "POST",
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n",
            )
            + body
        )
        assert_shed(read_answer(answers))
    with psycopg.connect(database_url) as db:
        row = db.execute("SELECT count(*) FROM items WHERE name = 'shed'").fetchone()
    assert row == (0,)


def test_a_shed_upgrade_request_is_answered_then_closed(
    alice: Account, at_the_limit: AtTheLimit, connection: socket.socket, answers: BinaryIO
) -> None:
    with at_the_limit():
        connection.sendall(
            request("/api/v1/items?limit=1", alice, extra="Connection: Upgrade\r\nUpgrade: h2c\r\n")
        )
        assert_shed(read_answer(answers))
        assert answers.read(1) == b""


def test_probes_in_any_form_and_the_metrics_are_never_shed(
    at_the_limit: AtTheLimit, connection: socket.socket, answers: BinaryIO
) -> None:
    with at_the_limit():
        for target in (b"/healthz", b"http://t/healthz", b"http://t/readyz?x=1", b"/metrics"):
            connection.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: t\r\n\r\n")
            status, _, _ = read_answer(answers)
            assert status == 200, target
