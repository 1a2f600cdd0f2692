"""Opaque keyset cursors: base64url JSON of the last row's sort key."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta
from uuid import UUID

import msgspec

from api.problems import FieldError, ProblemError
from queries.items import PageKey

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_Encoded = tuple[str, int | float, str]


def encode_cursor(key: PageKey) -> str:
    position, item_id = key
    if isinstance(position, datetime):
        payload: _Encoded = ("c", (position - _EPOCH) // timedelta(microseconds=1), str(item_id))
    else:
        payload = ("s", position, str(item_id))
    return base64.urlsafe_b64encode(msgspec.json.encode(payload)).rstrip(b"=").decode()


def decode_cursor(cursor: str, *, by_score: bool) -> PageKey:
    """Parse a cursor made by encode_cursor for the same kind of query, or answer 422."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, position, item_id = msgspec.json.decode(raw, type=_Encoded)
        if kind != ("s" if by_score else "c"):
            raise ValueError("cursor belongs to another kind of query")
        if kind == "s":
            return (float(position), UUID(item_id))
        return (_EPOCH + timedelta(microseconds=int(position)), UUID(item_id))
    except (ValueError, binascii.Error, msgspec.DecodeError, OverflowError):
        raise ProblemError(
            422,
            "cursor is not valid for this query; use the Link header of the previous page",
            slug="validation-error",
            errors=[FieldError(field="query.cursor", message="invalid cursor")],
        ) from None
