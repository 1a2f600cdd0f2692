"""Query functions for `sql/auth/`: login throttling, keyed by SHA-256 hashes of subjects."""

from __future__ import annotations

from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from msgspec import Struct

from queries.loader import load
from queries.pool import Executor


class LoginReservation(Struct):
    """One reserved login attempt: the counts after it (address_attempts is None when the
    account was over its limit and the address was not counted), seconds until each window
    ends, and the account's credentials when it exists."""

    account_attempts: int
    address_attempts: int | None
    user_id: UUID | None
    password_hash: str | None
    scopes: list[str] | None
    disabled: bool | None
    token_generation: int | None
    account_retry_after: int
    address_retry_after: int | None


RESERVE_LOGIN_ATTEMPT = load("auth/reserve_login_attempt")
RECORD_LOGIN_SUCCESS = load("auth/record_login_success")
RELEASE_LOGIN_ATTEMPT = load("auth/release_login_attempt")
CLEAR_LOGIN_ATTEMPTS = load("auth/clear_login_attempts")
DELETE_ENDED_LOGIN_WINDOWS = load("auth/delete_ended_login_windows")


async def reserve_login_attempt(
    db: Executor | PoolConnectionProxy[asyncpg.Record],
    account: bytes,
    address: bytes,
    window_seconds: float,
    max_failures: int,
    max_failures_per_address: int,
    email: str | None,
) -> LoginReservation:
    row = await db.fetchrow(
        RESERVE_LOGIN_ATTEMPT,
        account,
        address,
        window_seconds,
        max_failures,
        max_failures_per_address,
        email,
    )
    assert row is not None  # the account's upsert always returns its row
    return LoginReservation(*row)


async def record_login_success(
    db: Executor, account: bytes, address: bytes, max_failures_per_address: int
) -> None:
    await db.execute(RECORD_LOGIN_SUCCESS, account, address, max_failures_per_address)


async def release_login_attempt(
    db: Executor,
    account: bytes,
    max_failures: int,
    address: bytes | None,
    max_failures_per_address: int,
) -> None:
    """Give back the account's reservation and, unless `address` is None, the address's."""
    await db.execute(
        RELEASE_LOGIN_ATTEMPT, account, max_failures, address, max_failures_per_address
    )


async def clear_login_attempts(db: Executor, subject: bytes) -> bool:
    """Forget the subject's attempts; False when it had none."""
    return await db.fetchval(CLEAR_LOGIN_ATTEMPTS, subject) is not None


async def delete_ended_login_windows(db: Executor, window_seconds: float, limit: int) -> int:
    """Delete up to `limit` counters whose window has ended (skipping those another transaction
    holds); how many were deleted."""
    deleted: int = await db.fetchval(DELETE_ENDED_LOGIN_WINDOWS, window_seconds, limit)
    return deleted
