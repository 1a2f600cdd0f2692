"""Opaque keyset cursors: base64url JSON of the last row's sort key and of a digest of the
filters it was made for, so that a cursor cannot be replayed against another query."""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import UTC, datetime, timedelta
from uuid import UUID

import msgspec

from api.problems import invalid
from queries.items import ItemFilter, PageKey

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_Encoded = tuple[str, int | float, str, str]


def _digest(where: ItemFilter) -> str:
    return hashlib.blake2b(msgspec.json.encode(where), digest_size=6).hexdigest()


def encode_cursor(key: PageKey, where: ItemFilter) -> str:
    position, item_id = key
    if isinstance(position, datetime):
        micros = (position - _EPOCH) // timedelta(microseconds=1)
        payload: _Encoded = ("c", micros, str(item_id), _digest(where))
    else:
        payload = ("s", position, str(item_id), _digest(where))
    return base64.urlsafe_b64encode(msgspec.json.encode(payload)).rstrip(b"=").decode()


def decode_cursor(cursor: str, where: ItemFilter) -> PageKey:
    """Parse a cursor that encode_cursor made for the same filters, or answer 422."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, position, item_id, digest = msgspec.json.decode(raw, type=_Encoded)
        if kind != ("s" if where.q is not None else "c") or digest != _digest(where):
            raise ValueError("cursor belongs to another query")
        if kind == "s":
            return (float(position), UUID(item_id))
        return (_EPOCH + timedelta(microseconds=int(position)), UUID(item_id))
    except (ValueError, binascii.Error, msgspec.DecodeError, OverflowError):
        raise invalid(
            "query.cursor",
            "invalid cursor",
            "cursor is not valid for this query; use the Link header of the previous page",
        ) from None
