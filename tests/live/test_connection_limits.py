"""What one connection may cost the server, against a live `python -m api serve` over real
sockets: pipelined requests read ahead are bounded (reading pauses), a client that takes no
answers is closed after SEND_TIMEOUT_S, a page's body is bounded by MAX_RESPONSE_BYTES, and a
request whose body or head never completes gets a 4xx of the client's making, never a 500."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import Account
from tests.servers import live_server

SEND_TIMEOUT_S = 1
MAX_RESPONSE_BYTES = 64 * 1024
HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"


@pytest.fixture(scope="module")
def port(database_url: str) -> Iterator[int]:
    with live_server(
        database_url,
        SEND_TIMEOUT_S=str(SEND_TIMEOUT_S),
        MAX_RESPONSE_BYTES=str(MAX_RESPONSE_BYTES),
    ) as port:
        yield port


def server_rss_mb(port: int) -> float:
    """The resident memory of the process serving `port`, in MB."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"api" in words and b"serve" in words and str(port).encode() in words:
            status = (cmdline.parent / "status").read_text()
            kilobytes = re.search(r"VmRSS:\s+(\d+) kB", status)
            assert kilobytes is not None
            return int(kilobytes[1]) / 1024
    raise AssertionError(f"no server process for port {port}")


def send_for(connection: socket.socket, data: bytes, seconds: float) -> int:
    """Send as much of `data` as the server takes within `seconds`, reading nothing back."""
    connection.settimeout(0.2)
    sent, deadline = 0, time.monotonic() + seconds
    while sent < len(data) and time.monotonic() < deadline:
        try:
            sent += connection.send(data[sent : sent + 65536])
        except TimeoutError:
            continue
    return sent


def test_pipelined_requests_nobody_reads_are_bounded_and_their_memory_returns(port: int) -> None:
    """Finding: pipelining GET /healthz without reading the answers cost about 250 MB of server
    memory per connection, never returned after the connections closed."""
    pipeline = HEALTHZ * 100_000  # 3.5 MB of requests
    before = server_rss_mb(port)
    for _ in range(3):
        connections = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        for connection in connections:
            send_for(connection, pipeline, 1.5)
        during = server_rss_mb(port)
        assert during - before < 50, (before, during)
        for connection in connections:
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
            connection.close()  # a reset: what the server read ahead is dropped
    time.sleep(0.5)
    assert server_rss_mb(port) - before < 50
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200


def test_a_client_that_takes_no_answers_is_closed_after_the_send_timeout(port: int) -> None:
    """Finding: nothing timed out a client that does not read; its answers stayed in memory."""
    request = b"GET /openapi.json HTTP/1.1\r\nHost: a\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sent = send_for(connection, request * 400, 1.0)
        time.sleep(SEND_TIMEOUT_S + 2)
        connection.settimeout(5)
        received = b""
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    answers = received.count(b"HTTP/1.1 200 OK")
    assert answers < sent // len(request), "every answer was delivered: never closed"


def test_a_page_ends_before_max_response_bytes_with_a_link_to_the_rest(
    port: int, alice: Account
) -> None:
    """Finding: one GET /api/v1/items?limit=200 page was 175 MB."""
    base = f"http://127.0.0.1:{port}"
    tag = f"large-{time.monotonic_ns()}"
    padding = "x" * 20_000
    created = set()
    with httpx.Client(base_url=base, headers=alice.headers, timeout=10) as http:
        for n in range(7):
            item = {"name": f"big {n}", "tags": [tag], "metadata": {"p": padding}}
            response = http.post("/api/v1/items", json=item)
            assert response.status_code == 201, response.text
            created.add(response.json()["id"])
        seen: list[str] = []
        url = f"/api/v1/items?tags={tag}&limit=200"
        pages = 0
        while url:
            response = http.get(url)
            assert response.status_code == 200, response.text
            assert len(response.content) <= MAX_RESPONSE_BYTES
            seen += [item["id"] for item in response.json()]
            pages += 1
            link = response.headers.get("link")
            url = link[link.index("/api") : link.index(">")] if link else ""
    assert pages >= 3
    assert sorted(seen) == sorted(created)  # none repeated, none skipped


def test_a_body_cut_short_by_the_client_is_its_fault_not_a_500(port: int, alice: Account) -> None:
    """Finding: a client that stopped mid-body and half-closed got an `unhandled error`
    traceback and a 500 in the access log and metrics."""

    def server_errors() -> float:
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("http_requests_total{") and 'status="500"' in line
        )

    errors = server_errors()
    for path in (b"/api/v1/items", b"/api/v1/auth/token"):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            connection.sendall(
                b"POST "
                + path
                + b" HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer "
                + alice.token.encode()
                + b'\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":'
            )
            time.sleep(0.2)
            connection.shutdown(socket.SHUT_WR)
            connection.recv(65536)
    time.sleep(0.3)
    assert server_errors() == errors


def test_an_h2c_upgrade_with_a_body_is_served_over_http_1_1(port: int, alice: Account) -> None:
    """Finding: `curl --http2` over http (Upgrade: h2c) lost the body, and the answer was a false
    400 "the body is not valid JSON"."""
    body = b'{"name": "upgraded"}'
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(
            b"POST /api/v1/items HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer "
            + alice.token.encode()
            + b"\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
            + b"HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n"
            + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        time.sleep(0.1)
        connection.sendall(body)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, content = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 201"), received[:300]
    assert json.loads(content)["name"] == "upgraded"


def test_a_partial_next_request_at_the_keep_alive_timeout_is_408(port: int) -> None:
    """Finding: a partial request head in the same packet as a complete request was dropped
    silently at the keep-alive timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as connection:
        connection.sendall(HEALTHZ + b"GET /heal")
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 200"), received[:200]
    assert b"HTTP/1.1 408 Request Timeout" in received, received


def test_pipelined_writes_of_a_client_that_left_are_never_applied(
    port: int, alice: Account, database_url: str
) -> None:
    """Finding: when requests were pipelined, a client that closed was not noticed: the write in
    flight committed, the log said 200, then "Exception in ASGI application"."""
    marker = f"pipelined-{time.monotonic_ns()}"
    requests = b"".join(
        b"POST /api/v1/items HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer "
        + alice.token.encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        for body in (b'{"name": "%s-%d"}' % (marker.encode(), n) for n in range(3))
    )
    with psycopg.connect(database_url, autocommit=True) as locker:
        locker.execute("BEGIN")
        locker.execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
        connection = socket.create_connection(("127.0.0.1", port), timeout=10)
        connection.sendall(requests)
        time.sleep(0.5)  # the first write waits for the lock; the others are queued
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
        connection.close()
        time.sleep(0.5)  # the budget's timer sees the client gone
        locker.execute("COMMIT")
        time.sleep(1.0)
        applied = locker.execute(
            "SELECT count(*) FROM items WHERE name LIKE %s", (marker + "%",)
        ).fetchone()
    assert applied == (0,)


def test_a_client_that_half_closes_after_its_request_gets_the_answer(
    port: int, alice: Account, database_url: str
) -> None:
    """Finding: a client that sent a whole request and then half-closed (shutdown(SHUT_WR), as
    `nc -N` does) got no answer, while its write was applied and logged 201. Now it gets its
    answer, after an interim 100 Continue, and the connection closes after it."""
    name = f"half-closed {time.monotonic_ns()}"
    body = json.dumps({"name": name}).encode()
    with psycopg.connect(database_url) as locker:
        locker.execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")  # the write waits for it
        connection = socket.create_connection(("127.0.0.1", port), timeout=10)
        connection.sendall(
            b"POST /api/v1/items HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer "
            + alice.token.encode()
            + b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
            + body
        )
        connection.shutdown(socket.SHUT_WR)
        time.sleep(0.3)
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    connection.close()
    assert received.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 ")
    assert name.encode() in received
    with psycopg.connect(database_url) as reader:
        stored = reader.execute("SELECT count(*) FROM items WHERE name = %s", (name,)).fetchone()
    assert stored == (1,)
