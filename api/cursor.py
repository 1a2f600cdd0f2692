"""Opaque keyset cursors: base64url JSON of the last row's sort key and of a digest of the
filters it was made for, so that a cursor cannot be replayed against another query; and the
Link header (RFC 8288) that carries the next page's."""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Literal, overload
from urllib.parse import urlencode
from uuid import UUID

import msgspec
from blacksheep import Request

from api.http import query_params
from api.problems import invalid
from queries.keyset import PageKey, TimeKey

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_Encoded = tuple[str, int | float, str, str]


def _digest(where: msgspec.Struct) -> str:
    return hashlib.blake2b(msgspec.json.encode(where), digest_size=6).hexdigest()


def encode_cursor(key: PageKey, where: msgspec.Struct) -> str:
    position, row_id = key
    if isinstance(position, datetime):
        micros = (position - _EPOCH) // timedelta(microseconds=1)
        payload: _Encoded = ("c", micros, str(row_id), _digest(where))
    else:
        payload = ("s", position, str(row_id), _digest(where))
    return base64.urlsafe_b64encode(msgspec.json.encode(payload)).rstrip(b"=").decode()


@overload
def decode_cursor(
    cursor: str, where: msgspec.Struct, *, by_score: Literal[False] = False
) -> TimeKey: ...
@overload
def decode_cursor(cursor: str, where: msgspec.Struct, *, by_score: bool) -> PageKey: ...
def decode_cursor(cursor: str, where: msgspec.Struct, *, by_score: bool = False) -> PageKey:
    """Parse a cursor that encode_cursor made for the same filters and order (`by_score`: a
    search's), or answer 422."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, position, row_id, digest = msgspec.json.decode(raw, type=_Encoded)
        if kind != ("s" if by_score else "c") or digest != _digest(where):
            raise ValueError("cursor belongs to another query")
        if kind == "s":
            return (float(position), UUID(row_id))
        return (_EPOCH + timedelta(microseconds=int(position)), UUID(row_id))
    except (ValueError, binascii.Error, msgspec.DecodeError, OverflowError):
        raise invalid(
            "query.cursor",
            "invalid cursor",
            "cursor is not valid for this query; use the Link header of the previous page",
        ) from None


def next_link(
    request: Request, path: str, key: PageKey, where: msgspec.Struct
) -> tuple[bytes, bytes]:
    """The Link header to the page after `key`: this request's query with the next cursor."""
    params = [
        (k, v) for k, values in query_params(request).items() for v in values if k != "cursor"
    ]
    params.append(("cursor", encode_cursor(key, where)))
    return (b"link", f'<{path}?{urlencode(params)}>; rel="next"'.encode())
