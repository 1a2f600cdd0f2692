"""Query functions for `sql/api_keys/`."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from msgspec import Struct

from queries.loader import load
from queries.pool import Executor


class ApiKey(Struct):
    """An API key as listed: everything but the secret."""

    id: UUID
    name: str
    prefix: str
    scopes: list[str]
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    created_at: datetime


class KeyOwner(Struct):
    """What a presented key resolves to: the key, its user and both their scopes."""

    key_id: UUID
    user_id: UUID
    scopes: list[str]
    user_scopes: list[str]
    expires_at: datetime
    # Its last use is older than the interval asked for (or it was never used): record_use.
    use_stale: bool


CREATE = load("api_keys/create")
LIST_BY_USER = load("api_keys/list_by_user")
REVOKE = load("api_keys/revoke")
AUTHENTICATE = load("api_keys/authenticate")
RECORD_USE = load("api_keys/record_use")


async def create(
    db: Executor,
    user_id: UUID,
    name: str,
    prefix: str,
    secret_hash: bytes,
    scopes: list[str],
    expires_at: datetime,
    parent_id: UUID | None,
) -> ApiKey:
    row = await db.fetchrow(
        CREATE, user_id, name, prefix, secret_hash, scopes, expires_at, parent_id
    )
    assert row is not None  # INSERT ... RETURNING yields the row
    return ApiKey(*row)


async def list_by_user(db: Executor, user_id: UUID) -> list[ApiKey]:
    return [ApiKey(*row) for row in await db.fetch(LIST_BY_USER, user_id)]


async def revoke(db: Executor, key_id: UUID, caller_id: UUID, is_admin: bool) -> list[UUID]:
    """Revoke the key and the keys created with it, down the chain; their ids, or [] when there
    is no such key the caller may revoke."""
    return [row[0] for row in await db.fetch(REVOKE, key_id, caller_id, is_admin)]


async def authenticate(
    db: Executor, secret_hash: bytes, max_ttl_days: int, use_interval_seconds: float
) -> KeyOwner | None:
    row = await db.fetchrow(AUTHENTICATE, secret_hash, max_ttl_days, use_interval_seconds)
    return None if row is None else KeyOwner(*row)


async def record_use(db: Executor, key_id: UUID, interval_seconds: float) -> None:
    await db.execute(RECORD_USE, key_id, interval_seconds)
