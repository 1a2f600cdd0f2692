"""Accounts: creating users and checking passwords, with failed-login throttling."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Annotated, Literal

import asyncpg
import msgspec
from msgspec import Meta, Struct

from api.auth.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    hash_password,
    verify_password,
)
from api.problems import FieldError, ProblemError
from queries import auth as throttle
from queries import users
from queries.users import Credentials, User

Scope = Literal["items:read", "items:write", "admin"]
# An email: no @, control character or white space on either side of its one @. The classes are
# explicit, not \s, which means other characters in Python and in ECMA-262 (JSON Schema): Python
# counts U+001C-U+001F, ECMA-262 U+FEFF. This covers both, and the C1 controls.
_EMAIL_CHAR = r"[^@\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]"
EMAIL_PATTERN = rf"^{_EMAIL_CHAR}+@{_EMAIL_CHAR}+$"
# Python's $ also matches before a final newline, ECMA-262's does not: match the whole text.
_EMAIL = re.compile(rf"{_EMAIL_CHAR}+@{_EMAIL_CHAR}+")
Email = Annotated[str, Meta(min_length=3, max_length=254, pattern=EMAIL_PATTERN)]
Password = Annotated[str, Meta(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)]
DEFAULT_SCOPES: list[Scope] = ["items:read", "items:write"]


class NewUser(Struct, forbid_unknown_fields=True):
    email: Email
    password: Password
    scopes: Annotated[list[Scope], Meta(max_length=3)] = msgspec.field(
        default_factory=lambda: list(DEFAULT_SCOPES)
    )


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def create_user(pool: asyncpg.Pool, new: NewUser) -> User:
    """Hash the password off the loop and store the user; 409 when the email is taken."""
    if _EMAIL.fullmatch(new.email) is None:
        raise ProblemError(
            422,
            "$.email: must be one @ between two parts without white space or control characters",
            slug="validation-error",
            errors=[FieldError(field="$.email", message="not an email address")],
        )
    password_hash = await hash_password(new.password)
    scopes = sorted(set(new.scopes))
    try:
        return await users.create(pool, normalize_email(new.email), password_hash, scopes)
    except users.EmailTaken:
        raise ProblemError(
            409, "a user with this email exists already", slug="email-taken"
        ) from None


class LoginThrottle:
    """Counts failed logins per account and per client address in PostgreSQL, so every process
    and every instance shares the same counters."""

    def __init__(self, pool: asyncpg.Pool, max_failures: int, window_seconds: int) -> None:
        self.pool = pool
        self.max_failures = max_failures
        self.window_seconds = window_seconds

    async def check(self, subjects: list[str]) -> None:
        """Answer 429 with Retry-After while any subject has used up its failures."""
        states = await throttle.throttle_status(self.pool, subjects, self.window_seconds)
        blocked = [s for s in states if s.failures >= self.max_failures]
        if blocked:
            ends = max(s.window_ends_at for s in blocked)
            wait = max(1, math.ceil((ends - datetime.now(UTC)).total_seconds()))
            raise ProblemError(
                429,
                "too many failed logins; try again later",
                slug="too-many-login-attempts",
                headers={"Retry-After": str(wait)},
            )

    async def failed(self, subjects: list[str]) -> None:
        await throttle.record_failure(self.pool, subjects, self.window_seconds)

    async def succeeded(self, account_subject: str) -> None:
        await throttle.clear_failures(self.pool, account_subject)


async def check_password(pool: asyncpg.Pool, email: str, password: str) -> Credentials | None:
    """The user's credentials when the password is right and the user is enabled, else None.

    An unknown email costs the same hashing work as a wrong password, so timing tells nothing.
    """
    credentials = await users.get_credentials(pool, normalize_email(email))
    password_hash = None if credentials is None else credentials.password_hash
    matches = await verify_password(password_hash, password[:MAX_PASSWORD_LENGTH])
    if credentials is None or not matches or credentials.disabled:
        return None
    return credentials
