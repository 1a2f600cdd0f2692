"""The HTTP contract of users and their tokens: the bodies of /api/v1/users and
/api/v1/auth/token, the scopes a user or key may hold, and an email's form."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Literal, get_args

import msgspec
from msgspec import Meta, Struct

from api.auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from api.problems import invalid

Scope = Literal["items:read", "items:write", "keys:manage", "admin"]
# A list of scopes: no longer than there are scopes (repeats are dropped after decoding).
Scopes = Annotated[list[Scope], Meta(max_length=len(get_args(Scope)))]
DEFAULT_SCOPES: list[Scope] = ["items:read", "items:write", "keys:manage"]
# The password grant's form (POST /api/v1/auth/token).
TOKEN_FORM_BYTES = 16 * 1024
# An email: no @, control character or white space on either side of its one @. The classes are
# explicit, not \s, which means other characters in Python and in ECMA-262 (JSON Schema): Python
# counts U+001C-U+001F, ECMA-262 U+FEFF. This covers both, and the C1 controls.
_EMAIL_CHAR = r"[^@\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
EMAIL_PATTERN = rf"^{_EMAIL_CHAR}+@{_EMAIL_CHAR}+$"
# Python's $ also matches before a final newline, ECMA-262's does not: match the whole text.
_EMAIL = re.compile(rf"{_EMAIL_CHAR}+@{_EMAIL_CHAR}+")
EMAIL_LENGTH = 254  # RFC 5321 section 4.5.3.1.3: a path's 256 octets, less its angle brackets
Email = Annotated[str, Meta(min_length=3, max_length=EMAIL_LENGTH, pattern=EMAIL_PATTERN)]
Password = Annotated[str, Meta(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)]
# What a value refused by one of these patterns is told (api.http.plain_message).
PATTERN_MESSAGES = {EMAIL_PATTERN: "must be an email address"}


class NewUser(Struct, forbid_unknown_fields=True):
    email: Email
    password: Password
    scopes: Scopes = msgspec.field(default_factory=lambda: list(DEFAULT_SCOPES))


class TokenResponse(Struct):
    access_token: str
    token_type: str
    expires_in: int
    scope: str


def check_email(email: str) -> None:
    """422 naming `$.email` unless it is one @ between two parts without white space."""
    if _EMAIL.fullmatch(email) is None:
        raise invalid(
            "$.email",
            "not an email address",
            "$.email: must be one @ between two parts without white space or control characters",
        )


def normalize_email(email: str) -> str:
    """The form an email is stored and looked up in: trimmed, NFC (so that a composed and a
    decomposed "é" are one account), lower-case."""
    return unicodedata.normalize("NFC", email.strip()).lower()
