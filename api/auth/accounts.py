"""Accounts: creating users and checking passwords."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Literal

import asyncpg
import msgspec
from msgspec import Meta, Struct

from api.auth.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    hash_password,
    password_problem,
    verify_password,
)
from api.problems import ProblemError, invalid
from queries import users
from queries.auth import LoginReservation
from queries.users import Credentials, User

Scope = Literal["items:read", "items:write", "keys:manage", "admin"]
# An email: no @, control character or white space on either side of its one @. The classes are
# explicit, not \s, which means other characters in Python and in ECMA-262 (JSON Schema): Python
# counts U+001C-U+001F, ECMA-262 U+FEFF. This covers both, and the C1 controls.
_EMAIL_CHAR = r"[^@\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
EMAIL_PATTERN = rf"^{_EMAIL_CHAR}+@{_EMAIL_CHAR}+$"
# Python's $ also matches before a final newline, ECMA-262's does not: match the whole text.
_EMAIL = re.compile(rf"{_EMAIL_CHAR}+@{_EMAIL_CHAR}+")
Email = Annotated[str, Meta(min_length=3, max_length=254, pattern=EMAIL_PATTERN)]
Password = Annotated[str, Meta(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)]
DEFAULT_SCOPES: list[Scope] = ["items:read", "items:write", "keys:manage"]


class NewUser(Struct, forbid_unknown_fields=True):
    email: Email
    password: Password
    scopes: Annotated[list[Scope], Meta(max_length=4)] = msgspec.field(
        default_factory=lambda: list(DEFAULT_SCOPES)
    )


def normalize_email(email: str) -> str:
    """The form an email is stored and looked up in: trimmed, NFC (so that a composed and a
    decomposed "é" are one account), lower-case."""
    return unicodedata.normalize("NFC", email.strip()).lower()


async def create_user(pool: asyncpg.Pool, new: NewUser) -> User:
    """Hash the password off the loop and store the user; 422 naming `$.email` for a malformed
    email or `$.password` for a common or breached password, 409 when the email is taken."""
    if _EMAIL.fullmatch(new.email) is None:
        raise invalid(
            "$.email",
            "not an email address",
            "$.email: must be one @ between two parts without white space or control characters",
        )
    problem = password_problem(new.password, new.email)
    if problem is not None:
        raise invalid("$.password", problem)
    password_hash = await hash_password(new.password)
    scopes = sorted(set(new.scopes))
    try:
        return await users.create(pool, normalize_email(new.email), password_hash, scopes)
    except users.EmailTaken:
        raise ProblemError(
            409, "a user with this email exists already", slug="email-taken"
        ) from None


async def check_password(reserved: LoginReservation, password: str) -> Credentials | None:
    """The account's credentials when the password is right and the user is enabled, else None.

    An unknown email costs the same hashing work as a wrong password, so timing tells nothing.
    """
    # A longer password than any account can have is wrong, never cut to fit (NIST SP 800-63B
    # section 5.1.1.2); it is still hashed, cut, so that it costs what any other guess does.
    matches = await verify_password(reserved.password_hash, password[:MAX_PASSWORD_LENGTH])
    matches = matches and len(password) <= MAX_PASSWORD_LENGTH
    if reserved.user_id is None or reserved.password_hash is None or not matches:
        return None
    if reserved.disabled:
        return None
    return Credentials(
        reserved.user_id,
        reserved.password_hash,
        reserved.scopes or [],
        False,
        reserved.token_generation or 0,
    )
