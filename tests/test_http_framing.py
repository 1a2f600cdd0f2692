"""The request's framing, against a live `python -m api serve` over real sockets (RFC 9112):
what the protocol cannot serve is a problem document, never uvicorn's plain text, and the
connection closes; 204 and 304 answers carry no Content-Length (RFC 9110 section 8.6)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Account
from tests.live_server import live_server


@pytest.fixture(scope="module")
def port(database_url: str) -> Iterator[int]:
    with live_server(database_url) as port:
        yield port


def exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `request`, read until the server closes; the first answer's status, headers (one
    value per name, the last) and body. The request should ask for the close."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def assert_problem(answer: tuple[int, dict[str, str], bytes], status: int) -> dict[str, str]:
    got, headers, body = answer
    assert got == status, answer
    assert headers["content-type"] == "application/problem+json", headers
    # Like every answer of the app (finding: the protocol's refusals had neither).
    assert headers["x-content-type-options"] == "nosniff", headers
    assert headers["date"].endswith(" GMT"), headers
    document = json.loads(body[: int(headers["content-length"])])
    assert document["status"] == status
    return headers


@pytest.mark.parametrize(
    "request_line",
    [b"FOO /healthz HTTP/1.1", b"get /healthz HTTP/1.1", b"BREW /healthz HTTP/1.1"],
)
def test_a_method_the_parser_does_not_know_is_501(port: int, request_line: bytes) -> None:
    """Finding: uvicorn answered 400 in text/plain."""
    answer = exchange(port, request_line + b"\r\nHost: test\r\n\r\n")
    headers = assert_problem(answer, 501)
    assert headers["connection"] == "close"


@pytest.mark.parametrize("method", [b"TRACE", b"PROPFIND", b"QUERY"])
def test_a_registered_method_no_route_takes_stays_405(port: int, method: bytes) -> None:
    """Methods of the IANA registry, which the parser knows: the path exists, the method is not
    one of its own (RFC 9110 section 15.5.6)."""
    answer = exchange(
        port, method + b" /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    headers = assert_problem(answer, 405)
    assert headers["allow"] == "GET, HEAD, OPTIONS"


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /healthz HTTP/1.1\r\nHost: test\r\nBad Header\r\n\r\n",
        b"GET /health z HTTP/1.1\r\nHost: test\r\n\r\n",
    ],
)
def test_a_malformed_request_is_a_400_problem(port: int, raw: bytes) -> None:
    """Finding: uvicorn's "Invalid HTTP request received." in text/plain."""
    headers = assert_problem(exchange(port, raw), 400)
    assert headers["connection"] == "close"


@pytest.mark.parametrize(
    "hosts",
    [
        [],
        [b"Host: a.test", b"Host: b.test"],
        [b"Host: a.test", b"host: a.test"],
        [b"Host: a test"],
        [b"Host: a.test/path"],
        [b"Host: a.test:80:80"],
        [b"Host: user@a.test"],
    ],
)
def test_an_http_1_1_request_needs_exactly_one_valid_host(port: int, hosts: list[bytes]) -> None:
    """RFC 9112 section 3.2: 400 to a request without Host, with several, or with a Host field
    that is not uri-host [":" port]."""
    fields = b"".join(host + b"\r\n" for host in hosts)
    answer = exchange(port, b"GET /healthz HTTP/1.1\r\n" + fields + b"\r\n")
    assert_problem(answer, 400)


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /healthz HTTP/1.0\r\n\r\n",  # HTTP/1.0 needs no Host
        b"GET /healthz HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n",  # empty is allowed
        b"GET /healthz HTTP/1.1\r\nHost: [::1]:8000\r\nConnection: close\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nConnection: close\r\n\r\n",
    ],
)
def test_a_valid_host_or_none_in_http_1_0_is_served(port: int, raw: bytes) -> None:
    status, _, body = exchange(port, raw)
    assert status == 200, body
    assert json.loads(body) == {"status": "ok"}


@pytest.mark.parametrize(
    ("coding", "status"),
    [(b"gzip", 501), (b"gzip, chunked", 501), (b"identity", 501), (b"chunked, chunked", 400)],
)
def test_a_transfer_coding_other_than_chunked_is_501(port: int, coding: bytes, status: int) -> None:
    """RFC 9112 section 6.1: a transfer coding the server does not understand is 501 (chunked
    twice is a framing error: 400); the body cannot be framed, so the connection closes."""
    answer = exchange(
        port,
        b"POST /api/v1/items HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: " + coding + b"\r\n\r\n0\r\n\r\n",
    )
    headers = assert_problem(answer, status)
    assert headers["connection"] == "close"


@pytest.mark.parametrize("coding", [b"gzip", b"br", b"deflate, gzip"])
def test_content_with_a_content_coding_is_415(port: int, coding: bytes) -> None:
    """The body would be read as JSON as it is; RFC 9110 section 15.5.16 and RFC 7694 section 3:
    415 with the codings accepted."""
    answer = exchange(
        port,
        b"POST /api/v1/items HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Content-Encoding: " + coding + b"\r\nContent-Length: 2\r\n\r\n{}",
    )
    headers = assert_problem(answer, 415)
    assert headers["accept-encoding"] == "identity"


def test_a_chunked_body_is_still_read(port: int) -> None:
    """Chunked stays allowed: the request reaches the app (401: no credential)."""
    answer = exchange(
        port,
        b"POST /api/v1/items HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    )
    assert_problem(answer, 401)


def test_a_204_has_no_content_length(port: int) -> None:
    """Finding: `content-length: 0` on every 204 (RFC 9110 section 8.6: MUST NOT)."""
    status, headers, _ = exchange(
        port, b"OPTIONS /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    assert status == 204
    assert "content-length" not in headers, headers
    assert "transfer-encoding" not in headers, headers


def test_a_304_has_no_content_length_of_zero(port: int) -> None:
    _, first, _ = exchange(
        port, b"GET /openapi.json HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    status, headers, body = exchange(
        port,
        b"GET /openapi.json HTTP/1.1\r\nHost: test\r\nConnection: close\r\nIf-None-Match: "
        + first["etag"].encode()
        + b"\r\n\r\n",
    )
    assert status == 304
    assert body == b""
    assert "content-length" not in headers, headers
    assert headers["etag"] == first["etag"]


def test_head_keeps_the_content_length_of_get(port: int) -> None:
    _, got, body = exchange(
        port, b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    status, headers, empty = exchange(
        port, b"HEAD /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    assert status == 200
    assert empty == b""
    assert headers["content-length"] == got["content-length"] == str(len(body))


def test_status_lines_use_rfc_9110_reason_phrases(port: int, alice: Account) -> None:
    """Finding: "422 Unprocessable Entity" on the status line, "Unprocessable Content" in the
    problem's title."""
    response = httpx.get(
        f"http://127.0.0.1:{port}/api/v1/items/not-an-id", headers=alice.headers, timeout=10
    )
    assert response.status_code == 422
    assert response.reason_phrase == "Unprocessable Content" == response.json()["title"]
