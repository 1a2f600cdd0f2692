"""The HTTP contract of API keys: the bodies and query of /api/v1/api-keys, and the printable
text a key's name must be.

Printable text, for the names people read in listings and logs: no control character (Unicode
category Cc: C0, DEL, C1), format character (Cf: bidirectional embeddings, overrides and isolates
U+202A-U+202E and U+2066-U+2069, zero-width characters, the soft hyphen, tag characters...) or
line and paragraph separator (Zl, Zp). Such characters hide or reorder what a person sees (a name
that reads "deploy" but is not), or forge lines in a terminal or log.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated
from uuid import UUID

from msgspec import Meta, Struct

from api.contracts.common import NFC_EXPANSION, Cursor, nfc
from api.contracts.items import NAME_LENGTH
from api.contracts.users import Scopes
from api.problems import invalid

# GET /api/v1/api-keys: the page size when none is asked for, and the largest one may ask for.
KEY_PAGE_SIZE, KEY_PAGE_SIZE_MAX = 50, 200
_REFUSED = frozenset({"Cc", "Cf", "Zl", "Zp"})
# Those of the Basic Multilingual Plane, for a JSON Schema pattern: it means the same in Python
# and ECMA-262 only with \uXXXX escapes. clean_name() checks every plane;
# tests/http/test_api_keys.py checks this list against unicodedata.
PRINTABLE_PATTERN = (
    r"^[^\u0000-\u001f\u007f-\u009f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2"
    r"\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]*$"
)
PRINTABLE_MESSAGE = (
    "must hold printable characters only: no control or format characters (such as"
    " bidirectional overrides or zero-width characters) or line separators"
)
# What a value refused by one of these patterns is told (api.http.plain_message).
PATTERN_MESSAGES = {PRINTABLE_PATTERN: PRINTABLE_MESSAGE}


class NewApiKey(Struct, forbid_unknown_fields=True):
    # As long as an item's name (the api_keys_name_length constraint), counted in NFC: decoding
    # admits NFC_EXPANSION times more for text sent in another form, as for items.
    name: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=NFC_EXPANSION * NAME_LENGTH,
            pattern=PRINTABLE_PATTERN,
            description=f"1 to {NAME_LENGTH} printable characters in NFC: no control or format"
            " characters (Unicode Cc, Cf) or line separators",
        ),
    ]
    scopes: Scopes | None = None
    expires_at: Annotated[datetime, Meta(tz=True)] | None = None


class KeyListQuery(Struct, forbid_unknown_fields=True):
    """Query parameters of GET /api/v1/api-keys."""

    limit: Annotated[int, Meta(ge=1, le=KEY_PAGE_SIZE_MAX)] = KEY_PAGE_SIZE
    cursor: Cursor | None = None


class CreatedApiKey(Struct):
    """The new key, with its secret: shown this once and never again."""

    id: UUID
    name: str
    prefix: str
    scopes: list[str]
    expires_at: datetime | None
    created_at: datetime
    key: str


def is_printable(text: str) -> bool:
    if text.isascii():
        return text.isprintable()  # ASCII's refused characters are its controls
    return all(unicodedata.category(c) not in _REFUSED for c in text)


def clean_name(name: str) -> str:
    """A new key's name in NFC; 422 naming `$.name` when that is longer than NAME_LENGTH
    characters or holds a refused character, of any plane."""
    name = nfc(name)
    if len(name) > NAME_LENGTH:
        raise invalid("$.name", f"must have at most {NAME_LENGTH} characters")
    if not is_printable(name):
        raise invalid("$.name", PRINTABLE_MESSAGE)
    return name
