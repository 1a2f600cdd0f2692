"""Query functions for `sql/idempotency/`: Idempotency-Key records, run on one connection inside
the transaction of the write they guard, and the sweep of expired ones."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias
from uuid import UUID

import asyncpg
import msgspec
from msgspec import Struct

from queries.loader import load
from queries.pool import Executor

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    # A connection of the pool, as `pool.acquire()` hands it out.
    Connection: TypeAlias = asyncpg.Connection | PoolConnectionProxy[asyncpg.Record]
LOCK = load("idempotency/lock")
FIND = load("idempotency/find")
STORE = load("idempotency/store")
DELETE_EXPIRED = load("idempotency/delete_expired")


class StoredResponse(Struct):
    """The first response to a key: what a retry with the same request gets again."""

    fingerprint: bytes
    status: int
    headers: list[tuple[str, str]]
    body: bytes


async def lock(connection: Connection, principal_id: UUID, key: str) -> bool:
    """True when this transaction now holds the key; False while another one does."""
    acquired: bool = await connection.fetchval(LOCK, principal_id, key)
    return acquired


async def find(connection: Connection, principal_id: UUID, key: str) -> StoredResponse | None:
    row = await connection.fetchrow(FIND, principal_id, key)
    if row is None:
        return None
    headers = msgspec.json.decode(row["headers"], type=list[tuple[str, str]])
    return StoredResponse(bytes(row["fingerprint"]), row["status"], headers, bytes(row["body"]))


async def store(
    connection: Connection,
    principal_id: UUID,
    key: str,
    response: StoredResponse,
    ttl_seconds: float,
) -> bool:
    """False when a live record of the key exists already (nothing is stored then)."""
    stored = await connection.fetchval(
        STORE,
        principal_id,
        key,
        response.fingerprint,
        response.status,
        response.headers,
        response.body,
        ttl_seconds,
    )
    return stored is not None


async def delete_expired(db: Executor, limit: int) -> int:
    """Delete up to `limit` expired records (skipping those another transaction holds); how
    many were deleted."""
    deleted: int = await db.fetchval(DELETE_EXPIRED, limit)
    return deleted
