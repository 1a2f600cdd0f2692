"""Handlers for health, readiness, the OpenAPI document, the docs page and the home page."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import asyncpg
from blacksheep import Content, Request, Response

from api.http import encode, json_response
from api.problems import ProblemError
from queries import health
from queries.health import ReadinessProbe
from queries.pool import FairPool

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
        self.etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'.encode()
        self.cache_control = f"public, max-age={max_age}".encode()

    def respond(self, request: Request) -> Response:
        headers = [(b"etag", self.etag), (b"cache-control", self.cache_control)]
        if_none_match = request.get_first_header(b"if-none-match")
        if if_none_match is not None and self.etag in if_none_match.replace(b"W/", b""):
            return Response(304, headers, None)
        return Response(200, headers, Content(self.content_type, self.body))


class SiteHandlers:
    def __init__(
        self,
        pool: asyncpg.Pool,
        readiness: ReadinessProbe,
        shutting_down: Callable[[], bool],
        openapi: bytes,
        static_dir: Path,
    ) -> None:
        self.pool = pool
        self.readiness = readiness
        self.shutting_down = shutting_down
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
        """200 while this instance can reach PostgreSQL, however busy its pool; 503 when it
        cannot, or when it is shutting down. The body says which, and how busy the pool is."""
        if self.shutting_down():
            raise ProblemError(
                503,
                "this instance is shutting down",
                slug="not-ready",
                headers={"Retry-After": "1", "Cache-Control": "no-store"},
                extra={"reason": "shutting-down"},
            )
        if not await health.reachable(self.readiness):
            raise ProblemError(
                503,
                "PostgreSQL is not reachable from this instance",
                slug="not-ready",
                headers={"Retry-After": "1", "Cache-Control": "no-store"},
                extra={"reason": "database-unreachable"},
            )
        size = self.pool.get_size()
        idle = self.pool.get_idle_size()
        waiting = self.pool.waiting() if isinstance(self.pool, FairPool) else 0
        body = {
            "status": "ready",
            "database": "reachable",
            "pool": {
                "state": "busy"
                if waiting or (idle == 0 and size == self.pool.get_max_size())
                else "available",
                "size": size,
                "max_size": self.pool.get_max_size(),
                "idle": idle,
                "waiting": waiting,
            },
        }
        return json_response(200, encode(body), [(b"cache-control", b"no-store")])

    async def openapi_json(self, request: Request) -> Response:
        return self.openapi.respond(request)

    async def docs_page(self, request: Request) -> Response:
        return self.docs.respond(request)

    async def home(self, request: Request) -> Response:
        if self.index is None:
            raise ProblemError(404, "no static/index.html")
        return self.index.respond(request)
