"""GET /api/v1/items/export and POST /api/v1/items/import against a live `python -m api serve`
over real sockets: a client that reads steadily gets every item however long it takes, one that
stops reading for longer than REQUEST_TIMEOUT_MS is cut off (its transaction ended in
PostgreSQL, no completeness line), one that leaves ends the export's transaction; an import
streams a large body with flat memory, and one whose body stalls is answered 408 with nothing
written."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import psycopg
import pytest

from tests.conftest import Account
from tests.live.test_connection_limits import server_rss_mb
from tests.servers import free_port, service_env, start_server, stop_server

BUDGET_MS = 500
ITEMS = 3000
PAD = 8000  # characters of metadata per item: about 24 MB of NDJSON in all
COMPLETE = b'{"export":"complete","count":%d}\n' % ITEMS


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # SEND_TIMEOUT_S far past the budget: only the budget cuts a stalled export here.
    env = service_env(
        database_url, LOG_LEVEL="info", REQUEST_TIMEOUT_MS=str(BUDGET_MS), SEND_TIMEOUT_S="60"
    )
    log = tmp_path_factory.mktemp("export") / "server.log"
    port = free_port()
    process = start_server(env, port, "--no-migrate", log=log)
    try:
        yield Server(port, log)
    finally:
        stop_server(process)


class Server(NamedTuple):
    port: int
    log: Path

    def exports_ended(self) -> list[dict[str, Any]]:
        """The "export ended" lines the server has logged so far."""
        lines = [json.loads(line) for line in self.log.read_text().splitlines() if line[:1] == "{"]
        return [line for line in lines if line.get("event") == "export ended"]


@pytest.fixture
def port(server: Server) -> int:
    return server.port


def last_export(server: Server, logged: int, seconds: float = 5) -> dict[str, Any]:
    """The line of the one export that ended after `logged` had, once logged."""
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        ended = server.exports_ended()
        if len(ended) > logged:
            assert len(ended) == logged + 1, ended[logged:]
            return ended[-1]
        time.sleep(0.05)
    pytest.fail("no export ended")


@pytest.fixture
def big(database_url: str, alice: Account) -> None:
    """ITEMS items of alice's, each with PAD characters of metadata."""
    with psycopg.connect(database_url, autocommit=True) as db:
        db.execute(
            "INSERT INTO items (owner_id, name, metadata)"
            " SELECT %s, 'item ' || n, jsonb_build_object('pad', repeat('x', %s))"
            " FROM generate_series(1, %s) AS n",
            (alice.id, PAD, ITEMS),
        )


def request(port: int, alice: Account, query: str = "") -> socket.socket:
    """An export asked for on a connection with a small receive buffer."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    sock.connect(("127.0.0.1", port))
    sock.settimeout(10)
    sock.sendall(
        f"GET /api/v1/items/export{query} HTTP/1.1\r\nHost: a\r\n"
        f"Authorization: Bearer {alice.token}\r\n\r\n".encode()
    )
    return sock


def dechunk(raw: bytes) -> tuple[bytes, bool]:
    """The body of a chunked answer (after its head), and whether its last chunk came."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert b"transfer-encoding: chunked" in head.lower()
    body = bytearray()
    while rest:
        size_line, sep, rest = rest.partition(b"\r\n")
        if not sep:
            return bytes(body), False
        size = int(size_line, 16)
        if size == 0:
            return bytes(body), True
        if len(rest) < size + 2:
            body += rest[:size]
            return bytes(body), False
        body += rest[:size]
        rest = rest[size + 2 :]
    return bytes(body), False


def whole_export(sock: socket.socket, pause_s: float = 0.0) -> bytes:
    """The body of the export answered on `sock`, read to its last chunk (`pause_s` between
    reads: a reader slower than the server), which must have come."""
    raw = bytearray()
    with sock:
        while not raw.endswith(b"\r\n0\r\n\r\n"):
            part = sock.recv(1024 * 1024)
            assert part, "the server closed the connection"
            raw += part
            time.sleep(pause_s)
    body, complete = dechunk(bytes(raw))
    assert complete
    return body


def in_transaction(database_url: str) -> int:
    """The app's connections in a transaction now (an export holds one)."""
    with psycopg.connect(database_url, autocommit=True) as db:
        row = db.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'items-api'"
            " AND state IN ('active', 'idle in transaction') AND datname = current_database()"
        ).fetchone()
        assert row is not None
        return int(row[0])


def wait_for(database_url: str, count: int, seconds: float) -> float:
    """Seconds until `count` app connections are in a transaction; fails past `seconds`."""
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        if in_transaction(database_url) == count:
            return time.perf_counter() - start
        time.sleep(0.02)
    pytest.fail(f"{in_transaction(database_url)} connections in a transaction, not {count}")


def test_a_steady_reader_gets_everything_past_many_budgets(
    port: int, alice: Account, big: None
) -> None:
    start = time.perf_counter()
    # Slower than the server: it waits on this reader.
    body = whole_export(request(port, alice), pause_s=0.01)
    elapsed = time.perf_counter() - start
    lines = body.split(b"\n")
    assert lines[-2] + b"\n" == COMPLETE
    assert len(lines) == ITEMS + 2
    assert json.loads(lines[0])["metadata"] == {"pad": "x" * PAD}
    # Far longer than one budget: the budget bounds each step, not the whole.
    assert elapsed > 2 * BUDGET_MS / 1000, elapsed


def test_a_reader_that_stalls_past_the_budget_is_cut_off(
    server: Server, alice: Account, big: None, database_url: str
) -> None:
    logged = len(server.exports_ended())
    sock = request(server.port, alice)
    with sock:
        raw = bytearray(sock.recv(64 * 1024))
        stalled = time.perf_counter()
        # The export waits on this client with its transaction open, then gives up on it: a
        # budget after the client last took bytes (the kernel's buffers fill first).
        wait_for(database_url, 1, 2)
        wait_for(database_url, 0, 5)
        cut_after = time.perf_counter() - stalled
        assert BUDGET_MS / 1000 <= cut_after < BUDGET_MS / 1000 + 2, cut_after
        # What was sent before is still readable; then the connection ends, short.
        try:
            while part := sock.recv(1024 * 1024):
                raw += part
        except ConnectionResetError:
            pass
    body, complete = dechunk(bytes(raw))
    assert not complete
    assert b'"export":"complete"' not in body
    assert body.count(b"\n") < ITEMS
    ended = last_export(server, logged)
    # Cut while it waited on the client (the protocol closed the connection), or while it read.
    assert ended["ended"] in ("connection closed", "deadline")
    assert ended["items"] < ITEMS  # PostgreSQL was not read further


def test_a_client_that_leaves_ends_the_export_in_postgresql(
    server: Server, alice: Account, big: None, database_url: str
) -> None:
    port = server.port
    logged = len(server.exports_ended())
    sock = request(port, alice, "?format=csv")
    with sock:
        assert sock.recv(64 * 1024).startswith(b"HTTP/1.1 200")
        wait_for(database_url, 1, 2)
    # Gone: the transaction ends well within the budget, and the export reads no further.
    assert wait_for(database_url, 0, 2) < BUDGET_MS / 1000
    ended = last_export(server, logged)
    assert ended["ended"] in ("connection closed", "disconnect")
    assert ended["format"] == "csv"
    assert ended["items"] < ITEMS
    # The server serves the next export in full.
    body = whole_export(request(port, alice))
    assert body.endswith(COMPLETE)


def test_memory_stays_flat_whatever_the_size(port: int, alice: Account, big: None) -> None:
    before = server_rss_mb(port)
    for _ in range(2):
        sock = request(port, alice)
        received = 0
        tail = b""
        with sock:
            while not tail.endswith(b"\r\n0\r\n\r\n"):
                part = sock.recv(1024 * 1024)
                assert part
                received += len(part)
                tail = (tail + part)[-64:]
        assert received > ITEMS * PAD
    grown = server_rss_mb(port) - before
    print(f"the server's memory grew by {grown:.1f} MB over two exports of 24 MB")
    # 24 MB went through; a server that held the answer would grow by more than that.
    assert grown < 12, grown


def test_an_import_streams_its_body_with_flat_memory(
    port: int, alice: Account, big: None, database_url: str
) -> None:
    body = whole_export(request(port, alice))
    with psycopg.connect(database_url, autocommit=True) as db:
        db.execute("DELETE FROM items")
    before = server_rss_mb(port)
    with socket.create_connection(("127.0.0.1", port)) as upload:
        upload.settimeout(30)
        upload.sendall(
            f"POST /api/v1/items/import HTTP/1.1\r\nHost: a\r\n"
            f"Authorization: Bearer {alice.token}\r\nContent-Type: application/x-ndjson\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
        )
        for start in range(0, len(body), 256 * 1024):
            upload.sendall(body[start : start + 256 * 1024])
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
            part = upload.recv(65536)
            assert part, answer
            answer += part
    head, _, result = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), answer
    assert json.loads(result) == {"created": ITEMS, "updated": 0, "unchanged": 0}
    grown = server_rss_mb(port) - before
    print(f"the server's memory grew by {grown:.1f} MB over an import of 24 MB")
    assert grown < 12, grown
    assert in_transaction(database_url) == 0


def test_an_import_whose_body_stalls_is_answered_408_and_writes_nothing(
    port: int, alice: Account, database_url: str
) -> None:
    lines = b"".join(b'{"name":"item %d"}\n' % n for n in range(100))
    with socket.create_connection(("127.0.0.1", port)) as upload:
        upload.settimeout(10)
        upload.sendall(
            f"POST /api/v1/items/import HTTP/1.1\r\nHost: a\r\n"
            f"Authorization: Bearer {alice.token}\r\nContent-Type: application/x-ndjson\r\n"
            f"Content-Length: {len(lines) * 2}\r\n\r\n".encode()
        )
        upload.sendall(lines)  # half the body, then nothing
        start = time.perf_counter()
        answer = upload.recv(65536)
        waited = time.perf_counter() - start
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert BUDGET_MS / 1000 * 0.9 <= waited < BUDGET_MS / 1000 + 2, waited
    wait_for(database_url, 0, 2)
    with psycopg.connect(database_url, autocommit=True) as db:
        row = db.execute("SELECT count(*) FROM items").fetchone()
    assert row == (0,)
