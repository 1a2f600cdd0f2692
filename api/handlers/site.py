"""Handlers for health, readiness, the OpenAPI document, the docs page and the home page."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import asyncpg
from blacksheep import Content, Request, Response

from api.etags import matches_weakly, parse_tags
from api.http import json_response
from api.problems import ProblemError
from queries import health

_DOCS_PAGE = b"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Items API docs</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">
</head>
<body>
<div id="docs"></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#docs"});</script>
</body>
</html>
"""


class StaticDocument:
    """A file read once at start-up, answered with a strong ETag and 304 when unchanged."""

    def __init__(self, body: bytes, content_type: bytes, max_age: int) -> None:
        self.body = body
        self.content_type = content_type
        self.etag_text = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        self.etag = self.etag_text.encode()
        self.cache_control = f"public, max-age={max_age}".encode()

    def respond(self, request: Request) -> Response:
        headers = [(b"etag", self.etag), (b"cache-control", self.cache_control)]
        tags = parse_tags(request.get_headers(b"if-none-match"))
        if tags is not None and matches_weakly(tags, self.etag_text):
            return Response(304, headers, None)
        return Response(200, headers, Content(self.content_type, self.body))


class SiteHandlers:
    def __init__(self, pool: asyncpg.Pool, openapi: bytes, static_dir: Path) -> None:
        self.pool = pool
        self.openapi = StaticDocument(openapi, b"application/json", 300)
        self.docs = StaticDocument(_DOCS_PAGE, b"text/html; charset=utf-8", 300)
        index = static_dir / "index.html"
        self.index = (
            StaticDocument(index.read_bytes(), b"text/html; charset=utf-8", 300)
            if index.is_file()
            else None
        )

    async def healthz(self, request: Request) -> Response:
        return json_response(200, b'{"status":"ok"}', [(b"cache-control", b"no-store")])

    async def readyz(self, request: Request) -> Response:
        try:
            await asyncio.wait_for(health.ping(self.pool), timeout=2)
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            raise ProblemError(
                503, "the database is not reachable", headers={"Retry-After": "1"}
            ) from None
        return json_response(200, b'{"status":"ready"}', [(b"cache-control", b"no-store")])

    async def openapi_json(self, request: Request) -> Response:
        return self.openapi.respond(request)

    async def docs_page(self, request: Request) -> Response:
        return self.docs.respond(request)

    async def home(self, request: Request) -> Response:
        if self.index is None:
            raise ProblemError(404, "no static/index.html")
        return self.index.respond(request)
