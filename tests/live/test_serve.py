"""`python -m api serve` as a real process: uvicorn answers, and SIGTERM is graceful."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Account
from tests.servers import free_port, service_env, start_server


@pytest.fixture
def server(database_url: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    env = service_env(database_url, ACCESS_LOG="true")
    process = start_server(env, port, "--workers", "1", stdout=subprocess.PIPE)
    yield process, port
    if process.poll() is None:
        process.kill()
        process.wait()


def test_serve_answers_over_http(server: tuple[subprocess.Popen[bytes], int]) -> None:
    _, port = server
    response = httpx.get(f"http://127.0.0.1:{port}/api/v1/items")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert "server" not in response.headers  # no product banner
    assert response.headers["x-request-id"]


async def test_sigterm_lets_an_in_flight_request_finish(
    server: tuple[subprocess.Popen[bytes], int], alice: Account
) -> None:
    process, port = server
    body = b'{"name": "late"}'
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(
            b"POST /api/v1/items HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n"
            % (alice.token.encode(), len(body))
            + body[:5]
        )
        await asyncio.sleep(0.3)  # the request is now being read by its handler
        process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        assert process.poll() is None, "the server must wait for the in-flight request"
        connection.sendall(body[5:])
        reply = connection.recv(65536)
    assert reply.startswith(b"HTTP/1.1 201"), reply[:200]  # answered, not dropped
    output, _ = process.communicate(timeout=15)
    # uvicorn re-raises the signal it handled once shutdown is complete.
    assert process.returncode in (0, -signal.SIGTERM)
    assert b'"event":"stopped"' in output  # the pool was closed on the way out
