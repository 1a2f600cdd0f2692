"""What every resource's contract shares: text counted in NFC, one spelling of an id, and the
query parameters of a keyset-paged list."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from asyncpg.pgproto.pgproto import UUID as PgUUID
from msgspec import Meta

# Lengths are the stored text's: characters in NFC, counted after normalizing. Decoding admits up
# to NFC_EXPANSION times as many code points, the most another canonical form of the same text can
# take (a Greek letter with three marks, U+1F82, is four in NFD: UAX #15), so that a name written
# in NFD (as macOS writes file names) counts what it will store.
NFC_EXPANSION = 4


def nfc(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFC", text)


# The one spelling of an id: 8-4-4-4-12 hexadecimal digits, either case (RFC 9562 section 4),
# so that a resource has one URL. msgspec's UUID also takes the 32 digits without hyphens.
CANONICAL_UUID = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
UUID_LENGTH = 36
# asyncpg's own UUID: a uuid.UUID (equal and hashing alike) parsed in C in 0.1 us, against 0.9 us
# for uuid.UUID; it parses any id in a path, after CANONICAL_UUID has checked its form.
parse_uuid = PgUUID

# The opaque cursor of a list's next page (api.cursor); one of a page sorted by name holds the
# name: 100 characters of up to 4 UTF-8 bytes, base64url-encoded with the rest.
CURSOR_LENGTH = 1024
Cursor = Annotated[str, Meta(max_length=CURSOR_LENGTH)]
# A query parameter's form, checked before msgspec converts it: (name, pattern, message).
QueryForm = tuple[str, re.Pattern[str], str]
# msgspec's lax conversion also reads 1e1 and 1.0 as integers: a page size is digits only.
LIMIT_FORM: QueryForm = ("limit", re.compile(r"^[0-9]+$"), "must be a decimal integer")
