"""Printable text, for the names people read in listings and logs (API keys'): no control
character (Unicode category Cc: C0, DEL, C1), format character (Cf: bidirectional embeddings,
overrides and isolates U+202A-U+202E and U+2066-U+2069, zero-width characters, the soft hyphen,
tag characters...) or line and paragraph separator (Zl, Zp). Such characters hide or reorder
what a person sees (a name that reads "deploy" but is not), or forge lines in a terminal or log.
"""

from __future__ import annotations

import unicodedata

from api.item_input import nfc
from api.problems import invalid

_REFUSED = frozenset({"Cc", "Cf", "Zl", "Zp"})
# Those of the Basic Multilingual Plane, for a JSON Schema pattern: it means the same in Python
# and ECMA-262 only with \uXXXX escapes. clean_printable() checks every plane;
# tests/test_api_keys.py checks this list against unicodedata.
PRINTABLE_PATTERN = (
    r"^[^\u0000-\u001f\u007f-\u009f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2"
    r"\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]*$"
)
PRINTABLE_MESSAGE = (
    "must hold printable characters only: no control or format characters (such as"
    " bidirectional overrides or zero-width characters) or line separators"
)


def is_printable(text: str) -> bool:
    if text.isascii():
        return text.isprintable()  # ASCII's refused characters are its controls
    return all(unicodedata.category(c) not in _REFUSED for c in text)


def clean_printable(text: str, field: str, length: int) -> str:
    """`text` in NFC; 422 naming `field` when that is longer than `length` characters or holds
    a refused character, of any plane."""
    text = nfc(text)
    if len(text) > length:
        raise invalid(field, f"must have at most {length} characters")
    if not is_printable(text):
        raise invalid(field, PRINTABLE_MESSAGE)
    return text
