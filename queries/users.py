"""Query functions for `sql/users/`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg
from msgspec import Struct

from queries.loader import load
from queries.pool import Executor


class User(Struct):
    """A user's public fields; the password hash never leaves the credentials query."""

    id: UUID
    email: str
    scopes: list[str]
    disabled: bool
    created_at: datetime
    updated_at: datetime


class Credentials(Struct):
    id: UUID
    password_hash: str
    scopes: list[str]
    disabled: bool
    token_generation: int


class TokenCheck(Struct):
    """What an access token's check needs of its (enabled) user."""

    scopes: list[str]
    token_generation: int


class EmailTaken(Exception):
    """A user with that email exists already."""


CREATE = load("users/create")
GET_BY_ID = load("users/get_by_id")
GET_TOKEN_CHECK = load("users/get_token_check")
GET_CREDENTIALS = load("users/get_credentials")
SET_DISABLED = load("users/set_disabled")
SET_SCOPES = load("users/set_scopes")
LIST_PAGE = load("users/list_page")
SET_PASSWORD = load("users/set_password")
GET_ID_BY_EMAIL = load("users/get_id_by_email")


async def create(db: Executor, email: str, password_hash: str, scopes: Sequence[str]) -> User:
    try:
        row = await db.fetchrow(CREATE, email, password_hash, scopes)
    except asyncpg.UniqueViolationError:
        raise EmailTaken(email) from None
    assert row is not None  # INSERT ... RETURNING yields the row
    return User(*row)


async def get_by_id(db: Executor, user_id: UUID) -> User | None:
    row = await db.fetchrow(GET_BY_ID, user_id)
    return None if row is None else User(*row)


async def get_token_check(db: Executor, user_id: UUID) -> TokenCheck | None:
    """None for a user that does not exist or is disabled."""
    row = await db.fetchrow(GET_TOKEN_CHECK, user_id)
    return None if row is None else TokenCheck(*row)


async def get_credentials(db: Executor, email: str) -> Credentials | None:
    row = await db.fetchrow(GET_CREDENTIALS, email)
    return None if row is None else Credentials(*row)


async def set_disabled(db: Executor, email: str, disabled: bool) -> UUID | None:
    user_id: UUID | None = await db.fetchval(SET_DISABLED, email, disabled)
    return user_id


async def set_scopes(db: Executor, email: str, scopes: Sequence[str]) -> UUID | None:
    """The user's id, or None when no user has that email."""
    user_id: UUID | None = await db.fetchval(SET_SCOPES, email, scopes)
    return user_id


async def list_page(db: Executor, after_email: str, limit: int) -> list[User]:
    """Up to `limit` users in email order, after `after_email` ('' for the first page)."""
    return [User(*row) for row in await db.fetch(LIST_PAGE, after_email, limit)]


async def set_password(db: Executor, email: str, password_hash: str) -> UUID | None:
    """Store a new password hash; the user's id, or None when no user has that email."""
    user_id: UUID | None = await db.fetchval(SET_PASSWORD, email, password_hash)
    return user_id


async def get_id_by_email(db: Executor, email: str) -> UUID | None:
    user_id: UUID | None = await db.fetchval(GET_ID_BY_EMAIL, email)
    return user_id
