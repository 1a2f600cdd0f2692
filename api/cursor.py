"""Opaque keyset cursors: base64url JSON of the order they were made in, the last row's sort key
and a digest of the filters they were made for, so that a cursor cannot be replayed against
another query or another order; and the Link header (RFC 8288) that carries the next page's.

The order is "c" for the default (newest first), "s" for a search's relevance, or the `sort`
value (queries.items.SORTS) of any other; the key's position is the microseconds since the epoch
of a time, a score, a name, or the [name, microseconds] of a two-field sort."""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode
from uuid import UUID

import msgspec
from blacksheep import Request

from api.http import query_params
from api.problems import ProblemError, invalid
from queries.items import DEFAULT_SORT, SORTS
from queries.keyset import PageKey, TimeKey

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_Encoded = tuple[str, int | float | str | tuple[str, int], str, str]
# The orders and the kind of position their keys hold.
SEARCH_ORDER, DEFAULT_ORDER = "s", "c"
_NAME_ORDERS = ("name", "-name")
_NAME_TIME_ORDERS = tuple(s for s in SORTS if "," in s)
_TIME_ORDERS = (DEFAULT_ORDER, *(s for s in SORTS if s.lstrip("-") in ("created_at", "updated_at")))


def order_of(sort: str | None, *, search: bool) -> str:
    """The order a page is in: a search's relevance, the default, or `sort`."""
    if sort is None:
        return SEARCH_ORDER if search else DEFAULT_ORDER
    return DEFAULT_ORDER if sort == DEFAULT_SORT else sort


def _describe(order: str) -> str:
    if order == SEARCH_ORDER:
        return "a search's relevance order (q without sort)"
    return f"sort={DEFAULT_SORT if order == DEFAULT_ORDER else order}"


def _digest(where: msgspec.Struct) -> str:
    return hashlib.blake2b(msgspec.json.encode(where), digest_size=6).hexdigest()


def _micros(time: datetime) -> int:
    return (time - _EPOCH) // timedelta(microseconds=1)


def encode_cursor(key: PageKey, where: msgspec.Struct, order: str = DEFAULT_ORDER) -> str:
    position: int | float | str | tuple[str, int]
    if len(key) == 3:
        name, time, row_id = key
        position = (name, _micros(time))
    else:
        first, row_id = key
        position = _micros(first) if isinstance(first, datetime) else first
    payload: _Encoded = (order, position, str(row_id), _digest(where))
    return base64.urlsafe_b64encode(msgspec.json.encode(payload)).rstrip(b"=").decode()


def decode_cursor(cursor: str, where: msgspec.Struct, order: str = DEFAULT_ORDER) -> PageKey:
    """Parse a cursor that encode_cursor made for the same filters and order, or answer 422
    naming `query.cursor` (saying which order it was made in, when that is what differs)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, position, row_id, digest = msgspec.json.decode(raw, type=_Encoded)
    except (ValueError, binascii.Error, msgspec.DecodeError):
        raise _invalid_cursor() from None
    if kind != order and (kind in _ORDERS):
        raise invalid(
            "query.cursor",
            f"made for {_describe(kind)}, not {_describe(order)}",
            f"query.cursor: this cursor was made for {_describe(kind)}; a cursor continues"
            f" the order it was made in: ask for the first page of {_describe(order)}"
            " without a cursor",
        )
    try:
        if kind != order or digest != _digest(where):
            raise ValueError("cursor belongs to another query")
        if kind == SEARCH_ORDER and isinstance(position, int | float):
            return (_real(position), UUID(row_id))
        if kind in _NAME_ORDERS and isinstance(position, str):
            return (_text(position), UUID(row_id))
        if kind in _NAME_TIME_ORDERS and isinstance(position, tuple):
            name, micros = position
            return (_text(name), _EPOCH + timedelta(microseconds=micros), UUID(row_id))
        if kind in _TIME_ORDERS and isinstance(position, int):
            return (_EPOCH + timedelta(microseconds=position), UUID(row_id))
        raise ValueError("position of the wrong kind")
    except (ValueError, OverflowError):
        raise _invalid_cursor() from None


def _real(score: float) -> float:
    """A relevance score as the statements take it, a `real`: every page's is one exactly; any
    other (a forged cursor's) would be refused by the driver or rounded."""
    if struct.unpack("f", struct.pack("f", score))[0] != score:  # OverflowError when too large
        raise ValueError("not a real")
    return float(score)


def _text(name: str) -> str:
    """A name as PostgreSQL can take it: every stored name is; a forged cursor's may hold NUL."""
    if "\x00" in name:
        raise ValueError("NUL in a name")
    return name


def decode_time_cursor(cursor: str, where: msgspec.Struct) -> TimeKey:
    """decode_cursor of a newest-first list's cursor, whose position is a time."""
    key = decode_cursor(cursor, where)
    assert len(key) == 2  # the default order's keys are (time, id)
    position, row_id = key
    assert isinstance(position, datetime)
    return (position, row_id)


_ORDERS = (SEARCH_ORDER, DEFAULT_ORDER, *(s for s in SORTS if s != DEFAULT_SORT))


def _invalid_cursor() -> ProblemError:
    return invalid(
        "query.cursor",
        "invalid cursor",
        "cursor is not valid for this query; use the Link header of the previous page",
    )


def next_link(
    request: Request, path: str, key: PageKey, where: msgspec.Struct, order: str = DEFAULT_ORDER
) -> tuple[bytes, bytes]:
    """The Link header to the page after `key`: this request's query with the next cursor."""
    params = [
        (k, v) for k, values in query_params(request).items() for v in values if k != "cursor"
    ]
    params.append(("cursor", encode_cursor(key, where, order)))
    return (b"link", f'<{path}?{urlencode(params)}>; rel="next"'.encode())
