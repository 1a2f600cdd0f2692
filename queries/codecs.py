"""How json and jsonb cross the wire: JSON bytes in, msgspec.Raw out, never parsed in between."""

from __future__ import annotations

import asyncpg
import msgspec

_encode_json = msgspec.json.encode
_JSONB_BINARY_VERSION = b"\x01"


def _encode_jsonb(value: object) -> bytes:
    return _JSONB_BINARY_VERSION + _encode_json(value)


def _decode_jsonb(data: bytes) -> msgspec.Raw:
    # jsonb is passed through to the response untouched instead of being parsed and re-encoded.
    return msgspec.Raw(data[1:])


async def init_connection(connection: asyncpg.Connection) -> None:
    """Teach a new connection to exchange jsonb and json as JSON bytes (in) and msgspec.Raw (out).

    json's binary form is its text, so a json value (item_json() of a list page) arrives as the
    very bytes the response carries.
    """
    await connection.set_type_codec(
        "jsonb",
        schema="pg_catalog",
        encoder=_encode_jsonb,
        decoder=_decode_jsonb,
        format="binary",
    )
    await connection.set_type_codec(
        "json", schema="pg_catalog", encoder=_encode_json, decoder=msgspec.Raw, format="binary"
    )
