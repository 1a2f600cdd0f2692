"""Coalesced point reads: the look-ups by key of concurrent requests, answered by one statement.

A request asks `PointReads.get(key)` and waits. A runner, a task of its own, takes every key
asked for so far (at most `max_batch`) and runs one `... WHERE id = ANY($1)` statement for all of
them; keys asked for meanwhile make up the next batch, which starts as soon as a runner is free.
There is no timer: on an idle service a lone look-up runs at once, on a busy one each round trip
serves every request that arrived during the previous one (docs/operations.md, "Coalesced
reads").

Per request, the rules of the request path hold as they do for a read of its own:

- A request only ever joins a batch that has not started, so its rows are read after it arrived:
  it sees every write answered before it (read-your-writes).
- A request whose budget runs out or whose client leaves is cancelled (api/budget.py): its
  waiting ends at once and the others' batch goes on. A batch all of whose requests have left
  is never run, and a batch statement is cancelled when the longest budget it serves runs out.
- A lost connection runs the batch once more on a fresh one, within that same budget.
- Metrics: the statement's duration under its own name, the batch's size (`batch_sizes`), and
  each request's Server-Timing counts the statement that served it.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Callable, Hashable
from time import perf_counter
from typing import Any

import asyncpg

from queries.errors import LOST_CONNECTION, BudgetSpentError, PoolTimeoutError
from queries.loader import STATEMENT_NAMES
from queries.timing import DatabaseTimer, Histograms, current_timer

# Upper bounds of the batch-size histogram; the last one is +Inf.
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, float("inf"))

# One request waiting for a key: its future, its deadline (perf_counter seconds; inf outside a
# request) and its Server-Timing timer.
_Waiter = tuple["asyncio.Future[Any]", float, DatabaseTimer | None]


# How many keys each batch looked up, by statement name (published by api.metrics).
batch_sizes = Histograms(BATCH_SIZE_BUCKETS)


class PointReads:
    """Look-ups of rows by key, coalesced: `await get(key)` is the row whose first column is
    `key`, or None.

    `query` takes one parameter, an array of distinct keys, and returns at most one row per key,
    its first column the key. `deadline()` is the current request's deadline in perf_counter
    seconds (inf outside a request).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        query: str,
        *,
        max_batch: int,
        runners: int,
        deadline: Callable[[], float],
        acquire_timeout_s: float,
    ) -> None:
        self._pool = pool
        self.query = query  # its text, as loaded from sql/
        self._name = STATEMENT_NAMES.get(query, "unnamed")
        self._max_batch = max_batch
        self._runners = runners
        self._deadline = deadline
        self._acquire_timeout_s = acquire_timeout_s
        # The next batch: key -> the requests waiting for it, in the order they asked.
        self._pending: dict[Hashable, list[_Waiter]] = {}
        # Runners with nothing to do, each waiting on its future for the next key.
        self._idle: deque[asyncio.Future[None]] = deque()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    async def get(self, key: Hashable) -> Any:
        if not self._tasks:
            self._start()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        waiter = (future, self._deadline(), current_timer.get())
        waiting = self._pending.get(key)
        if waiting is not None:  # the same key in the same batch: one look-up serves both
            waiting.append(waiter)
        else:
            self._pending[key] = [waiter]
            if self._idle:
                self._idle.popleft().set_result(None)
        return await future

    def _start(self) -> None:
        if self._closed:
            raise RuntimeError("the point reads are closed")
        loop = asyncio.get_running_loop()
        for number in range(self._runners):
            # A fresh context: the runner must not inherit the request that started it (its
            # log fields, its Server-Timing timer).
            self._tasks.append(
                loop.create_task(
                    self._run(),
                    name=f"point-reads:{self._name}:{number}",
                    context=contextvars.Context(),
                )
            )

    async def close(self) -> None:
        """Stop the runners; requests still waiting get PoolTimeoutError (answered 503)."""
        self._closed = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        pending, self._pending = self._pending, {}
        for waiters in pending.values():
            _fail(waiters, PoolTimeoutError("the service is stopping"))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                wake: asyncio.Future[None] = loop.create_future()
                self._idle.append(wake)
                await wake
                continue
            batch = self._take()
            if self._pending and self._idle:  # more than one batch's worth: wake another
                self._idle.popleft().set_result(None)
            if batch:
                await self._serve(batch)

    def _take(self) -> dict[Hashable, list[_Waiter]]:
        """The next batch: up to max_batch keys, each with the requests still waiting for it."""
        if len(self._pending) <= self._max_batch:
            taken, self._pending = self._pending, {}
        else:
            taken = {}
            for key in list(self._pending)[: self._max_batch]:
                taken[key] = self._pending.pop(key)
        batch: dict[Hashable, list[_Waiter]] = {}
        for key, waiters in taken.items():
            live = [waiter for waiter in waiters if not waiter[0].done()]
            if live:
                batch[key] = live
        return batch

    async def _serve(self, batch: dict[Hashable, list[_Waiter]]) -> None:
        deadline = max(waiter[1] for waiters in batch.values() for waiter in waiters)
        start = perf_counter()
        try:
            rows = await self._fetch(list(batch), deadline)
        except asyncio.CancelledError:  # the service is stopping
            for waiters in batch.values():
                _fail(waiters, PoolTimeoutError("the service is stopping"))
            raise
        except Exception as error:
            for waiters in batch.values():
                _fail(waiters, error)
            return
        elapsed = perf_counter() - start
        batch_sizes.observe(self._name, len(batch))
        found = {row[0]: row for row in rows}
        for key, waiters in batch.items():
            row = found.get(key)
            for future, _, timer in waiters:
                if not future.done():
                    future.set_result(row)
                if timer is not None:
                    timer.seconds += elapsed

    async def _fetch(self, keys: list[Hashable], deadline: float) -> list[asyncpg.Record]:
        """Run the statement for `keys`, within `deadline`; once more when the connection was
        lost."""
        for attempt in (1, 2):
            left = deadline - perf_counter()
            if left <= 0:
                raise BudgetSpentError("every budget the batch serves is spent")
            try:
                async with self._pool.acquire(timeout=min(left, self._acquire_timeout_s)) as db:
                    left = deadline - perf_counter()
                    if left <= 0:
                        raise BudgetSpentError("every budget the batch serves is spent")
                    try:
                        return await db.fetch(
                            self.query, keys, timeout=None if left == float("inf") else left
                        )
                    except TimeoutError:  # asyncpg's timeout: it has cancelled the statement
                        raise BudgetSpentError("the statement outlasted its budgets") from None
            except LOST_CONNECTION:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def _fail(waiters: list[_Waiter], error: BaseException) -> None:
    for future, _, _ in waiters:
        if not future.done():
            future.set_exception(error)
