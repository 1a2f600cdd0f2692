"""The request's framing, against a live `python -m api serve` over real sockets (RFC 9112):
what the protocol cannot serve is a problem document, never uvicorn's plain text, and the
connection closes; 204 and 304 answers carry no Content-Length (RFC 9110 section 8.6)."""

from __future__ import annotations

import json
import re
import socket
import time
import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from tests.conftest import Account
from tests.servers import live_server


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
    if "x-request-id" not in headers:  # refused by the protocol, not answered by the app
        assert headers["cache-control"] == "no-store", headers
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
        # Findings: these were 501 "method not implemented", as httptools calls them.
        b"GET\r\n\r\n",
        b"G ET / HTTP/1.1\r\nHost: test\r\n\r\n",
        b"/ HTTP/1.1\r\nHost: test\r\n\r\n",
        b"GET\t/healthz\tHTTP/1.1\r\nHost: test\r\n\r\n",
        b"GET /healthz#top HTTP/1.1\r\nHost: test\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",  # TLS to the plain port
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
        [b"Host: a%zz.test"],
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
        b"GET /healthz HTTP/1.1\r\nHost: [v1.fe]\r\nConnection: close\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: a%2Db.test\r\nConnection: close\r\n\r\n",
        # A Content-Encoding without content codes nothing.
        b"GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Encoding: gzip\r\nConnection: close\r\n\r\n",
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


@pytest.mark.parametrize(
    "raw",
    [b"GET /healthz\r\n\r\n", b"GET /healthz HTTP/2.0\r\n\r\n"],
)
def test_a_version_other_than_http_1_x_is_505(port: int, raw: bytes) -> None:
    """Finding: HTTP/0.9 and HTTP/2.0 request lines were served, without a Host."""
    assert_problem(exchange(port, raw), 505)


def responses(port: int, request: bytes) -> list[tuple[int, bytes]]:
    """Every answer on the connection until the server closes it: (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    answers = []
    while data:
        head, _, data = data.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?im)^content-length: *(\d+)", head)[1])  # type: ignore[index]
        answers.append((int(head.split()[1]), data[:length]))
        data = data[length:]
    return answers


@pytest.mark.parametrize(
    "refused",
    [
        b"GET /healthz HTTP/1.1\r\n\r\n",  # no Host
        b"BREW /healthz HTTP/1.1\r\nHost: a\r\n\r\n",
        b"POST /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
    ],
)
def test_a_refusal_comes_after_the_answers_to_the_requests_before_it(
    port: int, alice: Account, refused: bytes
) -> None:
    """Finding: a pipelined request that was refused wiped out the answer to the one before,
    though that one (a PUT) was carried out (RFC 9112 section 9.3.2: answers in order)."""
    item = str(uuid.uuid4())
    body = b'{"name":"pipelined"}'
    put = (
        b"PUT /api/v1/items/" + item.encode() + b" HTTP/1.1\r\nHost: a\r\n"
        b"Authorization: Bearer " + alice.token.encode() + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    answers = responses(port, put + b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n" + refused)
    assert [status for status, _ in answers] == [201, 200, json.loads(answers[-1][1])["status"]]
    assert answers[-1][0] in (400, 501)


def test_trailer_fields_never_become_request_headers(port: int, alice: Account) -> None:
    """Finding: an Authorization sent only as a trailer of a chunked body logged the request in."""
    item = "7a1e5c1e-0000-4000-8000-000000000777"
    answer = exchange(
        port,
        b"PUT /api/v1/items/" + item.encode() + b" HTTP/1.1\r\nHost: a\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b'14\r\n{"name":"a trailer"}\r\n0\r\nAuthorization: Bearer '
        + alice.token.encode()
        + b"\r\n\r\n",
    )
    assert answer[0] == 401, answer
    got = httpx.get(f"http://127.0.0.1:{port}/api/v1/items/{item}", headers=alice.headers)
    assert got.status_code == 404


def test_an_upgrade_not_performed_answers_and_closes(port: int) -> None:
    """Finding: after `Upgrade: foo`, a request pipelined behind it was never answered and the
    connection hung until the keep-alive timeout."""
    started = time.monotonic()
    answers = responses(
        port,
        b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n"
        b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    assert answers[0][0] == 200
    assert time.monotonic() - started < 2


def test_a_websocket_upgrade_waits_for_the_answers_before_it(
    port: int, alice: Account, database_url: str
) -> None:
    """Finding: uvicorn switched to its WebSocket protocol at once, ahead of a write still
    running on the connection: the client got a 500, the write's answer was lost, and the write
    committed all the same. The service has no WebSocket routes: the Upgrade is declined, and
    the requests are answered in order."""
    body = b'{"name":"before the upgrade"}'
    with psycopg.connect(database_url) as locker:
        locker.execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            connection.sendall(
                b"POST /api/v1/items HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer "
                + alice.token.encode()
                + b"\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
                + b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
                b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            )
            time.sleep(0.3)  # the write waits for the lock, the upgrade behind it
            locker.rollback()
            received = b""
            while chunk := connection.recv(65536):
                received += chunk
    assert received.startswith(b"HTTP/1.1 201 "), received[:300]
    second = received.split(b"HTTP/1.1 ")[2]
    assert second.startswith(b"200 "), received[:600]


def test_an_answer_before_the_whole_body_closes_the_connection(port: int, alice: Account) -> None:
    """Finding: a body that stopped half-way got its 503 at the budget, and the connection then
    stayed open for as long as the client cared to trickle the rest. Finding: that 503 said the
    write "may have been applied, retry", though nothing can be without the body: 408."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as connection:
        connection.sendall(
            b"POST /api/v1/items HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer "
            + alice.token.encode()
            + b'\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":'
        )
        started = time.monotonic()
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 408"), received[:200]
    assert b"nothing was applied" in received
    assert b"connection: close" in received.lower()
    assert time.monotonic() - started < 7  # REQUEST_TIMEOUT_MS (5 s) + 1 s, then closed


def test_a_broken_chunked_body_is_400_at_once(port: int, alice: Account) -> None:
    """Finding: a malformed chunk on a running request waited for the body that would never come,
    and the answer was a 503 at the budget instead of the 400."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(
            b"POST /api/v1/items HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer "
            + alice.token.encode()
            + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b'5\r\n{"nam\r\n'
        )
        time.sleep(0.3)
        connection.sendall(b"zz\r\nxx\r\n")
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 400"), received[:200]
    assert time.monotonic() - started < 3
