"""Consistency-Token: read-your-writes across replicas (docs/scaling.md, "Read replicas").

Only with DATABASE_REPLICA_URLS; without it nothing here runs. Then:
- every successful answer to a write (a 2xx to POST, PUT, PATCH or DELETE) carries
  `Consistency-Token`: the primary's WAL insert position read after the write committed, with
  the cluster's system identifier and timeline, signed (HMAC-SHA-256 with a key derived from
  SECRET_KEY, like the access tokens). When that position cannot be read, the token names a
  position no replica reaches: reads that carry it go to the primary.
- a read of items (GET and HEAD of an item, lists, searches) that sends it is served by a
  replica that has replayed past it, else by the primary (queries/replicas.py). Several tokens
  (several header lines, or a comma-separated list) ask for the latest of them.
- a token that does not parse or whose signature does not hold (forged, or signed with another
  SECRET_KEY) is refused with a 422 problem naming `header.Consistency-Token`; a genuine token
  of another cluster or timeline (after a failover or a restore) is read on the primary.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import hmac
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from blacksheep import Request, Response

from api.problems import invalid
from queries.replicas import NEVER, Position, ReplicaSet

if TYPE_CHECKING:
    from api.routes import Route

Handler = Callable[[Request], Awaitable[Response]]
HEADER = "Consistency-Token"
_HEADER = b"consistency-token"
# The most tokens one request may send; each is at most _MAX_TOKEN_LENGTH characters.
MAX_TOKENS = 16
_MAX_TOKEN_LENGTH = 120
_VERSION = "1"
# version.system identifier.timeline.position.signature: hexadecimal, the signature base64url.
_TOKEN = re.compile(
    r"^1\.([0-9a-f]{1,16})\.([0-9a-f]{1,8})\.([0-9a-f]{1,17})\.([A-Za-z0-9_-]{22})$"
)
_MAC_BYTES = 16

# The Consistency-Token lines of the current read, with what reads them, set per request by
# reading() below; needed() checks them once the handler has authenticated its caller.
_sent: contextvars.ContextVar[tuple[TokenCodec, ReplicaSet, list[bytes]] | None] = (
    contextvars.ContextVar("consistency_tokens_sent", default=None)
)


def needed() -> Position | None:
    """The position the current read must see: None (any replica within the lag bound) when it
    sent no token; 422 naming the header when a token is malformed or forged."""
    sent = _sent.get()
    if sent is None:
        return None
    codec, replicas, lines = sent
    return replicas.merge(codec.read(lines))


class TokenCodec:
    """Signs and checks tokens with a key of their own, derived from SECRET_KEY."""

    def __init__(self, secret_key: str) -> None:
        self._key = hashlib.sha256(b"items-api consistency-token\0" + secret_key.encode()).digest()

    def _mac(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()[:_MAC_BYTES]
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def encode(self, position: Position) -> str:
        payload = (
            f"{_VERSION}.{position.system_identifier:x}.{position.timeline:x}.{position.lsn:x}"
        )
        return f"{payload}.{self._mac(payload)}"

    def decode(self, token: str) -> Position:
        """The position a token names; 422 naming the header when it is malformed or forged."""
        if len(token) > _MAX_TOKEN_LENGTH or not (match := _TOKEN.match(token)):
            raise invalid(f"header.{HEADER}", "is not a token this service issued")
        payload = token.rpartition(".")[0]
        if not hmac.compare_digest(self._mac(payload), match[4]):
            raise invalid(f"header.{HEADER}", "is not a token this service issued")
        return Position(int(match[1], 16), int(match[2], 16), int(match[3], 16))

    def read(self, lines: list[bytes]) -> list[Position]:
        """Every token of these header lines, checked."""
        tokens = [part.strip() for line in lines for part in line.decode("latin-1").split(",")]
        tokens = [token for token in tokens if token]
        if len(tokens) > MAX_TOKENS:
            raise invalid(
                f"header.{HEADER}", f"holds {len(tokens)} tokens; at most {MAX_TOKENS} are read"
            )
        return [self.decode(token) for token in tokens]


def reading(handler: Handler, codec: TokenCodec, replicas: ReplicaSet) -> Handler:
    """`handler`, for a read that a replica may serve: the tokens it was sent are what needed()
    reads while it runs."""

    async def read(request: Request) -> Response:
        lines = request.get_headers(_HEADER)
        if not lines:
            return await handler(request)
        token = _sent.set((codec, replicas, lines))
        try:
            return await handler(request)
        finally:
            _sent.reset(token)

    return read


def writing(handler: Handler, codec: TokenCodec, replicas: ReplicaSet) -> Handler:
    """`handler`, for a write: its successful answer carries a token of the primary's position
    read after the write committed."""

    async def write(request: Request) -> Response:
        response = await handler(request)
        if 200 <= response.status < 300:
            position = await replicas.position()
            if position is None:  # the primary is unreachable now: send its readers there
                if replicas.identity is None:
                    return response
                position = Position(*replicas.identity, NEVER)
            response.add_header(_HEADER, codec.encode(position).encode())
        return response

    return write


_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def wrapper(codec: TokenCodec, replicas: ReplicaSet) -> Callable[[Route, Handler], Handler]:
    """What api.routes.register wraps each route's handler in: a write's answer gets a token,
    a read a replica may serve (Route.replica_reads) honours the tokens it is sent."""

    def wrap(route: Route, handler: Handler) -> Handler:
        if route.method in _UNSAFE:
            return writing(handler, codec, replicas)
        if route.replica_reads:
            return reading(handler, codec, replicas)
        return handler

    return wrap
