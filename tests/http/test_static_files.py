"""Static files: quoted ETags, one pass through the middleware, one Content-Length, and nothing
outside STATIC_DIR (separator-aware containment, symlinks refused)."""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from api import logs
from api.app import create_app
from api.settings import Settings

Headers = list[tuple[bytes, bytes]]


async def call(
    app: Any, method: str, raw_path: bytes, headers: Headers | None = None
) -> tuple[int, Headers, bytes]:
    """One request through ASGI with the raw path exactly as given (httpx would normalise
    dot segments away before sending them)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": raw_path.decode("latin-1"),
        "raw_path": raw_path,
        "query_string": b"",
        "root_path": "",
        "headers": headers or [],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }
    sent = False
    status, head, chunks = 0, [], []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        sent = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, head
        if message["type"] == "http.response.start":
            status, head = message["status"], list(message.get("headers", []))
        else:
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, head, b"".join(chunks)


def values(headers: Headers, name: bytes) -> list[bytes]:
    return [value for key, value in headers if key.lower() == name]


@pytest.fixture
async def site(tmp_path: Path, settings: Settings, log_stream: io.BytesIO) -> AsyncIterator[Any]:
    """An app whose STATIC_DIR is /srv/www/static, beside a static-private folder and a
    symlink out of the root."""
    www = tmp_path / "srv" / "www"
    root = www / "static"
    (root / "css").mkdir(parents=True)
    (root / "site.css").write_text("body { color: black }\n")
    (root / "page.html").write_text("<!doctype html><title>x</title>\n")
    (root / ".hidden").write_text("hidden\n")
    (www / "static-private").mkdir()
    (www / "static-private" / "secret.txt").write_text("the secret\n")
    (root / "linked").symlink_to(www / "static-private", target_is_directory=True)
    (root / "alias.css").symlink_to(root / "site.css")
    (tmp_path / "outside.txt").write_text("outside\n")
    app = create_app(msgspec.structs.replace(settings, static_dir=str(root)))
    await app.start()
    yield app
    await app.stop()


@pytest.mark.parametrize(
    "path",
    [
        b"/static/../static-private/secret.txt",
        b"/static/..%2fstatic-private/secret.txt",
        b"/static/%2e%2e/static-private/secret.txt",
        b"/static/%2E%2E%2Fstatic-private%2Fsecret.txt",
        b"/static/css/../../static-private/secret.txt",
        b"/static/..%5cstatic-private%5csecret.txt",
        b"/static/linked/secret.txt",  # a symlinked folder out of the root
        b"/static/alias.css",  # a symlink, even one pointing inside
        b"/static/.hidden",
        b"/static/%00site.css",
        b"/static/site.css%00",
        b"/static//etc/passwd",
        b"/static/%2fetc%2fpasswd",
        b"/static/../../outside.txt",
        b"/static/%ff",
        b"/static/css",  # a folder
        b"/static/",
    ],
)
async def test_nothing_outside_the_static_root_is_served(site: Any, path: bytes) -> None:
    """Finding: with STATIC_DIR=/srv/www/static, /static/../static-private/secret.txt served
    the sibling folder's file (a string-prefix check), and symlinked folders were followed."""
    status, _, body = await call(site, "GET", path)
    assert status == 404, (path, body)
    assert b"secret" not in body
    assert b"outside" not in body


async def test_a_static_file_has_a_quoted_etag_and_one_pass(
    site: Any, log_stream: io.BytesIO
) -> None:
    """Findings: the ETag was the unquoted mtime; every static response passed the middleware
    twice (two X-Request-Id headers, two access lines)."""
    request_id = f"static-{uuid.uuid4().hex}"
    status, headers, body = await call(
        site, "GET", b"/static/site.css", [(b"x-request-id", request_id.encode())]
    )
    assert status == 200
    assert body == b"body { color: black }\n"
    (etag,) = values(headers, b"etag")
    assert re.fullmatch(rb'"[0-9a-f]{32}"', etag), etag
    assert values(headers, b"x-request-id") == [request_id.encode()]
    assert len(values(headers, b"content-length")) == 1
    assert values(headers, b"x-content-type-options") == [b"nosniff"]
    assert values(headers, b"content-type")[0].startswith(b"text/css")
    logs.flush()
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines() if line.strip()]
    assert sum(1 for line in lines if line.get("request_id") == request_id) == 1

    status, _, body = await call(site, "GET", b"/static/site.css", [(b"if-none-match", etag)])
    assert status == 304
    assert body == b""
    status, _, _ = await call(
        site, "GET", b"/static/site.css", [(b"if-none-match", b'"other", ' + etag)]
    )
    assert status == 304


async def test_head_on_a_static_file_sends_one_content_length(site: Any) -> None:
    """Finding: HEAD sent two different Content-Length headers."""
    _, get_headers, _ = await call(site, "GET", b"/static/site.css")
    status, headers, _ = await call(site, "HEAD", b"/static/site.css")
    lengths = values(headers, b"content-length")
    assert len(lengths) <= 1, lengths
    if status == 200:
        assert lengths == values(get_headers, b"content-length")


async def test_static_html_has_a_content_security_policy(site: Any) -> None:
    status, headers, _ = await call(site, "GET", b"/static/page.html")
    assert status == 200
    (policy,) = values(headers, b"content-security-policy")
    assert b"frame-ancestors 'none'" in policy
