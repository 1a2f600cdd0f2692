"""Query functions for `sql/api_keys/`."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from msgspec import Struct

from queries.keyset import FIRST, TimeKey
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


class KeyFilter(Struct):
    """The keys a caller may see: all of a user's (key_id None, a caller with the user's token),
    or one key and the keys created with it (a caller with that key)."""

    user_id: UUID
    key_id: UUID | None


class KeyPage(Struct):
    keys: list[ApiKey]
    next_key: TimeKey | None


LOCK_OWNER = load("api_keys/lock_owner")
CREATE = load("api_keys/create")
LIST_BY_USER = load("api_keys/list_by_user")
LIST_BY_KEY = load("api_keys/list_by_key")
REVOKE = load("api_keys/revoke")
AUTHENTICATE = load("api_keys/authenticate")
RECORD_USE = load("api_keys/record_use")


async def create(
    db: Executor | PoolConnectionProxy[asyncpg.Record],
    user_id: UUID,
    name: str,
    prefix: str,
    secret_hash: bytes,
    scopes: list[str],
    expires_at: datetime,
    parent_id: UUID | None,
    *,
    max_ttl_days: int,
    max_per_user: int,
) -> ApiKey | None:
    """The stored key; None, storing nothing, when the user already has `max_per_user` keys
    that still work. Creations for one user run one at a time (lock_owner), so that concurrent
    ones never pass the limit together."""
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as connection:
            return await create(
                connection,
                user_id,
                name,
                prefix,
                secret_hash,
                scopes,
                expires_at,
                parent_id,
                max_ttl_days=max_ttl_days,
                max_per_user=max_per_user,
            )
    async with db.transaction():
        await db.execute(LOCK_OWNER, user_id)
        row = await db.fetchrow(
            CREATE,
            user_id,
            name,
            prefix,
            secret_hash,
            scopes,
            expires_at,
            parent_id,
            max_ttl_days,
            max_per_user,
        )
    return None if row is None else ApiKey(*row)


async def find(db: Executor, where: KeyFilter, limit: int, after: TimeKey | None) -> KeyPage:
    """One page of the keys `where` shows, newest first, after the keyset position `after`."""
    created_at, last_id = after if after is not None else FIRST
    # One more row than asked for tells whether a next page exists.
    if where.key_id is None:
        rows = await db.fetch(LIST_BY_USER, where.user_id, created_at, last_id, limit + 1)
    else:
        rows = await db.fetch(LIST_BY_KEY, where.key_id, created_at, last_id, limit + 1)
    keys = [ApiKey(*row) for row in rows[:limit]]
    return KeyPage(keys, (keys[-1].created_at, keys[-1].id) if len(rows) > limit else None)


async def revoke(
    db: Executor, key_id: UUID, caller_id: UUID, is_admin: bool, caller_key_id: UUID | None
) -> list[UUID]:
    """Revoke the key and the keys created with it, down the chain; their ids, or [] when there
    is no such key the caller may revoke: an admin any key, a user's token any of the user's,
    a key itself and the keys created with it."""
    rows = await db.fetch(REVOKE, key_id, caller_id, is_admin, caller_key_id)
    return [row[0] for row in rows]


async def authenticate(
    db: Executor, secret_hash: bytes, max_ttl_days: int, use_interval_seconds: float
) -> KeyOwner | None:
    row = await db.fetchrow(AUTHENTICATE, secret_hash, max_ttl_days, use_interval_seconds)
    return None if row is None else KeyOwner(*row)


async def record_use(db: Executor, key_id: UUID, interval_seconds: float) -> None:
    await db.execute(RECORD_USE, key_id, interval_seconds)
