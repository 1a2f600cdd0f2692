"""Idempotency-Key for POST (draft-ietf-httpapi-idempotency-key-header): a retry of a request
gets the first response again instead of a second write.

Per principal and key, in PostgreSQL, so that every worker and instance sees it. One request
with a key runs in one transaction on one connection:
1. take the key's transaction-level advisory lock without waiting: held by another transaction
   means the key's first request still runs, 409 (sql/idempotency/lock.sql);
2. look the key up: a stored response of the same request (method, path, body: SHA-256) is
   answered again byte for byte with no write, marked `Idempotency-Replayed: true`, since it
   tells of the item as it was then (it may have changed or been deleted since); of another
   request, 422 (sql/idempotency/find.sql);
3. otherwise do the write and store its response in the same transaction
   (sql/idempotency/store.sql): the write and its key commit together or not at all, so a crash
   leaves neither a key without its write nor a write without its key. An error response is
   never stored: its transaction rolls back, and a retry runs the request again.
Keys live IDEMPOTENCY_TTL_SECONDS; expired ones are deleted on a schedule (api/sweeper.py). A
request without the header takes none of these steps.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeAlias
from uuid import UUID

import asyncpg
from blacksheep import Content, Request, Response

from api.problems import RETRY_AFTER, FieldError, ProblemError, invalid
from queries import idempotency
from queries.idempotency import StoredResponse

if TYPE_CHECKING:
    from queries.idempotency import Connection

    Write: TypeAlias = Callable[[Connection], Awaitable[Response]]
    Stage: TypeAlias = Callable[[Connection], Awaitable[None]]
MAX_KEY_LENGTH = 255
# The response headers a replay repeats (Content-Type comes with the content), and the one it adds.
REPLAYED_HEADERS = (b"etag", b"location", b"link")
REPLAYED = (b"idempotency-replayed", b"true")
# The draft's key is a Structured Field String (RFC 8941 section 3.3.3): printable ASCII in
# quotes, with " and \ escaped. A bare token is taken as it is, as clients of other services send
# it. Either way the key has 1 to MAX_KEY_LENGTH characters. KEY_PATTERN is the whole rule, in
# a syntax that means the same in Python and ECMA-262: the OpenAPI document publishes it.
_SF_CHAR = r'[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\]'
_BARE_CHAR = r"[\x21\x23-\x7e]"


def _key_pattern(repeat: str) -> str:
    return rf'^(?:"(?:{_SF_CHAR}){repeat}"|{_BARE_CHAR}{repeat})$'


KEY_PATTERN = _key_pattern(f"{{1,{MAX_KEY_LENGTH}}}")
# The longest header value a key can take: MAX_KEY_LENGTH escaped characters, in quotes.
MAX_KEY_FIELD_LENGTH = 2 + 2 * MAX_KEY_LENGTH
_KEY = re.compile(KEY_PATTERN)
_KEY_OF_ANY_LENGTH = re.compile(_key_pattern("*"))
_ESCAPE = re.compile(r'\\(["\\])')


def _invalid_key(message: str) -> ProblemError:
    return invalid("header.Idempotency-Key", message)


def idempotency_key(request: Request) -> str | None:
    """The request's Idempotency-Key, unquoted; None without the header; 422 when malformed."""
    lines = request.get_headers(b"idempotency-key")
    if not lines:
        return None
    if len(lines) > 1:
        raise _invalid_key("give one Idempotency-Key")
    raw = lines[0].decode("latin-1")
    if _KEY.fullmatch(raw) is None:
        if _KEY_OF_ANY_LENGTH.fullmatch(raw) is not None:
            raise _invalid_key(f"must have 1 to {MAX_KEY_LENGTH} characters")
        raise _invalid_key('must be a string such as "8e03978e-40d5-43e8-bc93-6894a57f9324"')
    return _ESCAPE.sub(r"\1", raw[1:-1]) if raw.startswith('"') else raw


class Idempotency:
    """Runs keyed writes: at most once per principal, key and TTL."""

    def __init__(self, pool: asyncpg.Pool, ttl_seconds: int) -> None:
        self.pool = pool
        self.ttl_seconds = ttl_seconds

    async def respond(
        self, request: Request, principal_id: UUID, key: str, body: bytes, write: Write
    ) -> Response:
        """The response of `write` (run on the transaction's connection), or the stored one."""
        fingerprint = fingerprint_of(request)
        fingerprint.update(body)
        async with self.pool.acquire() as connection, connection.transaction():
            return await self._respond(connection, principal_id, key, fingerprint, None, write)

    async def respond_streamed(
        self,
        connection: Connection,
        principal_id: UUID,
        key: str,
        fingerprint: hashlib._Hash,
        stage: Stage,
        write: Write,
    ) -> Response:
        """As respond, for a body read while `stage(connection)` runs (an import), in the
        transaction open on `connection`: the key's lock is taken before it, the body's
        fingerprint (`fingerprint`, which `stage` feeds with the body as it reads it:
        fingerprint_of) is looked up after it, then `write(connection)` runs unless the key's
        answer is stored. A refusal `stage` raises is never stored. A replay still reads the
        whole body first: its fingerprint is known only then."""
        return await self._respond(connection, principal_id, key, fingerprint, stage, write)

    async def _respond(
        self,
        connection: Connection,
        principal_id: UUID,
        key: str,
        fingerprint_hash: hashlib._Hash,
        stage: Stage | None,
        write: Write,
    ) -> Response:
        if not await idempotency.lock(connection, principal_id, key):
            raise ProblemError(
                409,
                "a request with this Idempotency-Key is still running; retry when it is done",
                slug="idempotency-key-in-use",
                headers=RETRY_AFTER,
            )
        if stage is not None:
            await stage(connection)
        fingerprint = fingerprint_hash.digest()
        stored = await idempotency.find(connection, principal_id, key)
        if stored is not None:
            if stored.fingerprint != fingerprint:
                raise ProblemError(
                    422,
                    "this Idempotency-Key was used for another request; use a new key",
                    slug="idempotency-key-reused",
                    errors=[
                        FieldError(
                            field="header.Idempotency-Key", message="used for another request"
                        )
                    ],
                )
            return _replay(stored)
        response = await write(connection)
        record = _record(fingerprint, response)
        if not await idempotency.store(connection, principal_id, key, record, self.ttl_seconds):
            # Only when the key's first request committed between our lock and our lookup.
            raise ProblemError(
                409,
                "a request with this Idempotency-Key has just completed; retry for its answer",
                slug="idempotency-key-in-use",
                headers=RETRY_AFTER,
            )
        return response


def fingerprint_of(request: Request) -> hashlib._Hash:
    """The hash a request's fingerprint is made of: its method and path, then its body."""
    return hashlib.sha256(request.method.encode() + b" " + request.url.path + b"\n")


def _record(fingerprint: bytes, response: Response) -> StoredResponse:
    content = response.content
    headers = []
    if content is not None and content.type:
        headers.append(("content-type", content.type.decode("latin-1")))
    for name in REPLAYED_HEADERS:
        for value in response.get_headers(name):
            headers.append((name.decode(), value.decode("latin-1")))
    body = content.body if content is not None and content.body is not None else b""
    return StoredResponse(fingerprint, response.status, headers, body)


def _replay(stored: StoredResponse) -> Response:
    content_type = b"application/octet-stream"
    headers: list[tuple[bytes, bytes]] = []
    for name, value in stored.headers:
        if name == "content-type":
            content_type = value.encode("latin-1")
        else:
            headers.append((name.encode(), value.encode("latin-1")))
    headers.append(REPLAYED)
    content = Content(content_type, stored.body) if stored.body else None
    return Response(stored.status, headers, content)
