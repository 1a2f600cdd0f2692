"""GET /static/{path}: files under STATIC_DIR, and nothing outside it.

BlackSheep's serve_files compared string prefixes (so /srv/www/static-private passed for
/srv/www/static), followed symlinks out of the root, sent an unquoted ETag, ran the middleware a
second time and sent two Content-Length headers on HEAD. This handler is an ordinary route: the
path is split into segments, each refused when empty, `.` or `..`, hidden, or holding a
backslash or NUL; the file must be a regular file whose every component is not a symlink and
whose resolved path lies inside the resolved root (compared by path components, not by
string prefix). Files are read in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import os
import stat
from pathlib import Path
from urllib.parse import unquote

from blacksheep import Content, Request, Response

from api.etags import matches_weakly, parse_tags
from api.problems import ProblemError

MAX_STATIC_BYTES = 16 * 1024 * 1024  # larger files belong on a CDN or a real file server
# For HTML pages: only this origin's scripts and styles, never framed (RFC 7034's successor).
CONTENT_SECURITY_POLICY = (
    b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    b"form-action 'self'"
)


class StaticFile:
    """One file as served: its bytes, media type and strong ETag (a hash of the bytes)."""

    __slots__ = ("body", "content_type", "etag")

    def __init__(self, body: bytes, content_type: bytes) -> None:
        self.body = body
        self.content_type = content_type
        self.etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'.encode()


def contained_file(root: Path, relative: str) -> Path | None:
    """The regular file `relative` names inside `root` (already resolved), or None when the
    path leaves the root, goes through a symlink, is hidden, or is not a regular file."""
    segments = relative.split("/")
    for segment in segments:
        if segment in ("", ".", "..") or segment.startswith(".") or "\\" in segment:
            return None
        if "\x00" in segment:
            return None
    candidate = root.joinpath(*segments)
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, ValueError):
        return None
    # A resolved path that differs went through a symlink (even one pointing inside): refused.
    if resolved != candidate or not resolved.is_relative_to(root):
        return None
    if not stat.S_ISREG(os.stat(resolved).st_mode):
        return None
    return resolved


def _load(root: Path, relative: str) -> StaticFile | None:
    path = contained_file(root, relative)
    if path is None or path.stat().st_size > MAX_STATIC_BYTES:
        return None
    guessed, _ = mimetypes.guess_type(path.name)
    media = guessed or "application/octet-stream"
    if media.startswith("text/") or media in ("application/javascript", "image/svg+xml"):
        media += "; charset=utf-8"
    return StaticFile(path.read_bytes(), media.encode())


class StaticFiles:
    def __init__(self, root: Path, max_age: int = 3600) -> None:
        self.root = root.resolve()
        self.cache_control = f"public, max-age={max_age}".encode()

    async def get(self, request: Request) -> Response:
        """The file, with a quoted strong ETag and Cache-Control; 304 on a matching
        If-None-Match (RFC 9110 section 13.1.2); 404 for anything it will not serve."""
        try:
            relative = unquote(request.route_values.get("tail") or "", errors="strict")
            found = await asyncio.to_thread(_load, self.root, relative)
        except (OSError, UnicodeDecodeError):
            found = None
        if found is None:
            raise ProblemError(404, "no such static file")
        headers = [(b"etag", found.etag), (b"cache-control", self.cache_control)]
        if found.content_type.startswith(b"text/html"):
            headers.append((b"content-security-policy", CONTENT_SECURITY_POLICY))
        tags = parse_tags(request.get_headers(b"if-none-match"))
        if tags is not None and matches_weakly(tags, found.etag.decode()):
            return Response(304, headers, None)
        return Response(200, headers, Content(found.content_type, found.body))
