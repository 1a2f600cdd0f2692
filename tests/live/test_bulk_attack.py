"""POST /api/v1/items/import against a live server by careless and hostile clients: an upload
abandoned midway or too large without a Content-Length writes nothing and gives its pool
connection and its slot back (docs/api.md, "Import")."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import Account
from tests.live.test_export_import import wait_for
from tests.servers import free_port, service_env, start_server, stop_server

MAX_BYTES = 100_000
LINES = b"".join(b'{"name":"item %d"}\n' % n for n in range(100))


@pytest.fixture(scope="module")
def port(database_url: str) -> Iterator[int]:
    env = service_env(database_url, REQUEST_TIMEOUT_MS="500", IMPORT_MAX_BYTES=str(MAX_BYTES))
    port = free_port()
    process = start_server(env, port, "--no-migrate")
    try:
        yield port
    finally:
        stop_server(process)


def head(alice: Account, length: str) -> bytes:
    return (
        f"POST /api/v1/items/import HTTP/1.1\r\nHost: a\r\n"
        f"Authorization: Bearer {alice.token}\r\nContent-Type: application/x-ndjson\r\n"
        f"{length}\r\n\r\n"
    ).encode()


def answer(sock: socket.socket) -> bytes:
    got = b""
    while b"\r\n\r\n" not in got or not got.endswith(b"}"):
        part = sock.recv(65536)
        if not part:
            break
        got += part
    return got


def items(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as db:
        row = db.execute("SELECT count(*) FROM items").fetchone()
    assert row is not None
    return int(row[0])


def import_once(port: int, alice: Account) -> bytes:
    body = b'{"name":"after"}\n'
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(10)
        sock.sendall(head(alice, f"Content-Length: {len(body)}") + body)
        return answer(sock)


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_an_upload_abandoned_midway_writes_nothing_and_gives_its_slot_back(
    port: int, alice: Account, database_url: str, framing: str
) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        if framing == "length":
            sock.sendall(head(alice, f"Content-Length: {len(LINES) * 2}") + LINES)
        else:
            chunk = b"%x\r\n%b\r\n" % (len(LINES), LINES)
            sock.sendall(head(alice, "Transfer-Encoding: chunked") + chunk)
        wait_for(database_url, 1, 2)  # the import's COPY is under way
    # The client left without the end of the body: nothing written, the connection back.
    wait_for(database_url, 0, 2)
    assert items(database_url) == 0
    reply = import_once(port, alice)  # the user's one import slot is free again
    assert reply.startswith(b"HTTP/1.1 200"), reply
    assert json.loads(reply.partition(b"\r\n\r\n")[2])["created"] == 1


def test_a_chunked_body_past_import_max_bytes_is_413_and_writes_nothing(
    port: int, alice: Account, database_url: str
) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(10)
        sock.sendall(head(alice, "Transfer-Encoding: chunked"))
        sent, reply = 0, b""
        try:
            while sent <= MAX_BYTES * 2:
                sock.sendall(b"%x\r\n%b\r\n" % (len(LINES), LINES))
                sent += len(LINES)
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server may answer and close before the rest is sent
        reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 413"), reply
    assert b"IMPORT_MAX_BYTES" in reply
    wait_for(database_url, 0, 2)
    assert items(database_url) == 0
    assert import_once(port, alice).startswith(b"HTTP/1.1 200")  # the slot came back


def test_a_body_past_100_bad_lines_still_gets_its_422(
    port: int, alice: Account, database_url: str
) -> None:
    """Reading stops at IMPORT_BAD_LINES: the client, still sending, must get the 422."""
    body = b'{"name":""}\n' * 150 + LINES * 8  # about 30 kB more after the 100th bad line
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(10)
        with contextlib.suppress(OSError):  # the server may answer before the rest arrives
            sock.sendall(head(alice, f"Content-Length: {len(body)}") + body)
        reply = answer(sock)
    assert reply.startswith(b"HTTP/1.1 422"), reply
    assert b"at least 100 lines" in reply
    wait_for(database_url, 0, 2)
    assert items(database_url) == 0
