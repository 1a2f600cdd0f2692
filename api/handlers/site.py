"""Handlers for health, readiness, the OpenAPI document, the docs page and the home page."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import asyncpg
from blacksheep import Content, Request, Response

from api import docs
from api.etags import matches_weakly, parse_tags
from api.handlers.static import CONTENT_SECURITY_POLICY, contained_file
from api.http import encode, json_response
from api.problems import RETRY_AFTER, ProblemError
from queries import health
from queries import replicas as replica_reads
from queries.fair_pool import FairPool
from queries.health import ReadinessProbe
from queries.replicas import ReplicaSet


class StaticDocument:
    """A file read once at start-up, answered with a strong ETag and 304 when unchanged."""

    def __init__(self, body: bytes, content_type: bytes, max_age: int) -> None:
        self.body = body
        self.content_type = content_type
        self.etag_text = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        self.etag = self.etag_text.encode()
        self.headers = [
            (b"etag", self.etag),
            (b"cache-control", f"public, max-age={max_age}".encode()),
        ]
        if content_type.startswith(b"text/html"):
            self.headers.append((b"content-security-policy", CONTENT_SECURITY_POLICY))

    def respond(self, request: Request) -> Response:
        headers = list(self.headers)
        tags = parse_tags(request.get_headers(b"if-none-match"))
        if tags is not None and matches_weakly(tags, self.etag_text):
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
        replicas: ReplicaSet | None = None,
    ) -> None:
        self.pool = pool
        self.replicas = replicas
        self.readiness = readiness
        self.shutting_down = shutting_down
        self.openapi = StaticDocument(openapi, b"application/json", 300)
        self.docs = StaticDocument(docs.PAGE, b"text/html; charset=utf-8", 300)
        # Swagger UI's files, by their fixed URL path; a day in caches (the ETag revalidates).
        self.docs_assets = {
            path: StaticDocument(body, media_type, 86400)
            for path, (body, media_type) in docs.load_assets().items()
        }
        # Read once at start-up, under the same containment rules as /static/ (no symlinks).
        index = contained_file(static_dir.resolve(), "index.html") if static_dir.is_dir() else None
        self.index = (
            StaticDocument(index.read_bytes(), b"text/html; charset=utf-8", 300)
            if index is not None
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
                headers={**RETRY_AFTER, "Cache-Control": "no-store"},
                extra={"reason": "shutting-down"},
            )
        if not await health.reachable(self.readiness):
            raise ProblemError(
                503,
                "PostgreSQL is not reachable from this instance",
                slug="not-ready",
                headers={**RETRY_AFTER, "Cache-Control": "no-store"},
                extra={"reason": "database-unreachable"},
            )
        size = self.pool.get_size()
        idle = self.pool.get_idle_size()
        waiting = self.pool.waiting() if isinstance(self.pool, FairPool) else 0
        body: dict[str, object] = {
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
        if self.replicas is not None:
            # Each replica's state and lag; the instance is ready without any (reads then go to
            # the primary), so they never make it 503.
            body["replicas"] = self.replicas.report()
            # How this worker routed its reads since it started (all workers: /metrics).
            body["replica_reads"] = {**replica_reads.routed, "retried": replica_reads.retried[0]}
        return json_response(200, encode(body), [(b"cache-control", b"no-store")])

    async def openapi_json(self, request: Request) -> Response:
        return self.openapi.respond(request)

    async def docs_page(self, request: Request) -> Response:
        return self.docs.respond(request)

    async def docs_asset(self, request: Request) -> Response:
        """One of Swagger UI's files. Only their fixed paths are routed here."""
        asset = self.docs_assets.get(request.path)
        if asset is None:
            raise ProblemError(404, f"no docs file {request.path}")
        return asset.respond(request)

    async def home(self, request: Request) -> Response:
        if self.index is None:
            raise ProblemError(404, "no static/index.html")
        return self.index.respond(request)
