"""Query functions for `sql/health/`."""

from __future__ import annotations

from queries.loader import load
from queries.pool import Executor

PING = load("health/ping")


async def ping(db: Executor) -> bool:
    ready: int = await db.fetchval(PING)
    return ready == 1
