"""Deletes expired rows on a schedule: Idempotency-Key records past their TTL, and login counters
whose window has ended. Either would otherwise go only when a request with the same key or
subject came again, so unique keys or usernames would grow their table without bound.

Every SWEEP_SECONDS each process deletes them, SWEEP_BATCH rows a statement (short transactions,
few row locks at a time) until a batch comes back short. Each statement skips the rows another
transaction holds, so workers and instances sweeping at once share the rows instead of queueing
on them. A failed sweep is logged and tried again at the next interval.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from functools import partial

import asyncpg

from api.logs import get_logger
from queries import auth, idempotency

SWEEP_BATCH = 500
_log = get_logger("api.sweeper")


class Sweeper:
    def __init__(
        self, pool: asyncpg.Pool, interval_seconds: float, login_window_seconds: int
    ) -> None:
        self.pool = pool
        self.interval_seconds = interval_seconds
        self.login_window_seconds = login_window_seconds
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._every_interval())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def sweep(self) -> int:
        """Delete every expired row; how many were deleted."""
        deleted = await _in_batches(partial(idempotency.delete_expired, self.pool))
        return deleted + await _in_batches(
            partial(auth.delete_ended_login_windows, self.pool, self.login_window_seconds)
        )

    async def _every_interval(self) -> None:
        while True:
            await asyncio.sleep(self.interval_seconds)
            try:
                await self.sweep()
            except Exception:  # tried again at the next interval; the service goes on
                _log.exception("deleting expired rows failed")


async def _in_batches(delete: Callable[[int], Awaitable[int]]) -> int:
    """Run `delete(SWEEP_BATCH)` until a batch comes back short; the rows deleted in all."""
    deleted = 0
    while True:
        batch = await delete(SWEEP_BATCH)
        deleted += batch
        if batch < SWEEP_BATCH:
            return deleted
