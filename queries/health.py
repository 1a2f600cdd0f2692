"""Query functions for `sql/health/`, and the readiness probe's own connection."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg

from queries.errors import CONNECTION_ERRORS
from queries.loader import load
from queries.pool import Executor

PING = load("health/ping")


async def ping(db: Executor) -> bool:
    ready: int = await db.fetchval(PING)
    return ready == 1


class ReadinessProbe:
    """Whether PostgreSQL answers, asked over one connection of its own, outside the pool.

    A full pool (a locked table, a burst of slow searches) says nothing about reachability, so
    the probe never waits for a pool connection. Concurrent probes share one ping. The
    connection is opened on first use and again after any failure; every ping, connecting
    included, is bounded by `timeout` seconds. `statement_cache_size` is the pool's
    (DB_STATEMENT_CACHE_SIZE): behind PgBouncer before 1.21, in transaction mode, 0, or a ping
    prepared on one server connection would run on another that does not have it.
    """

    def __init__(
        self,
        dsn: str,
        timeout: float,
        server_settings: dict[str, str],
        statement_cache_size: int = 100,
    ) -> None:
        self._dsn = dsn
        self._timeout = timeout
        self._server_settings = server_settings
        self._statement_cache_size = statement_cache_size
        self._connection: asyncpg.Connection | None = None
        self._running: asyncio.Future[bool] | None = None

    async def check(self, statement: Callable[[asyncpg.Connection], Awaitable[bool]]) -> bool:
        """Run `statement` on the probe's connection: its answer, or False when PostgreSQL is
        down, refusing connections or not answering within the timeout."""
        if self._running is None:
            self._running = asyncio.ensure_future(self._run(statement))
            self._running.add_done_callback(self._forget)
        return await asyncio.shield(self._running)

    def _forget(self, done: asyncio.Future[bool]) -> None:
        self._running = None

    async def _run(self, statement: Callable[[asyncpg.Connection], Awaitable[bool]]) -> bool:
        try:
            async with asyncio.timeout(self._timeout):
                if self._connection is None or self._connection.is_closed():
                    self._connection = await asyncpg.connect(
                        self._dsn,
                        timeout=self._timeout,
                        server_settings=self._server_settings,
                        statement_cache_size=self._statement_cache_size,
                    )
                return await statement(self._connection)
        except (asyncpg.PostgresError, *CONNECTION_ERRORS):  # type: ignore[misc]
            self._drop()
            return False

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.terminate()

    async def close(self) -> None:
        if self._running is not None:
            await asyncio.gather(self._running, return_exceptions=True)
        self._drop()


async def reachable(probe: ReadinessProbe) -> bool:
    """True when PostgreSQL answers the ping on the probe's own connection in time."""
    return await probe.check(ping)
