"""Seeds a migrated database with a realistic volume (sql/tooling/seed_*.sql) for `sql check`.

The seed statements give rows predictable ids and values; the helpers here compute the same ids,
so that samples.py can name rows that exist.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from api.sqltools.statements import tooling


@dataclass(frozen=True)
class Volume:
    items: int = 100_000
    users: int = 20_000
    api_keys: int = 40_000
    login_subjects: int = 20_000
    idempotency_keys: int = 40_000


def user_id(n: int) -> UUID:
    return UUID(f"00000000-0000-4000-8000-{n:012x}")


def api_key_id(n: int) -> UUID:
    return UUID(f"00000000-0000-4000-9000-{n:012x}")


def api_key_hash(n: int) -> bytes:
    return hashlib.sha256(f"key-{n}".encode()).digest()


def item_id(n: int) -> UUID:
    return UUID(f"00000000-0000-4000-a000-{n:012x}")


async def row_estimates(connection: asyncpg.Connection) -> dict[str, int]:
    """The planner's row estimate per table (as of the last ANALYZE)."""
    rows = await connection.fetch(tooling("table_rows"))
    return {row["table_name"]: row["estimated_rows"] for row in rows}


async def seed(connection: asyncpg.Connection, volume: Volume) -> None:
    """Insert the volume in one transaction, then ANALYZE so the planner knows it."""
    async with connection.transaction():
        await connection.execute(tooling("seed_users"), volume.users)
        await connection.execute(tooling("seed_api_keys"), volume.api_keys, volume.users)
        await connection.execute(tooling("seed_items"), volume.items, volume.users)
        await connection.execute(tooling("seed_login_throttle"), volume.login_subjects)
        await connection.execute(
            tooling("seed_idempotency_keys"), volume.idempotency_keys, volume.users
        )
    await analyze(connection)


async def analyze(connection: asyncpg.Connection) -> None:
    await connection.execute(tooling("analyze"))
