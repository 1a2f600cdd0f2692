"""A pool that hands connections to waiting tasks in the order they asked, within a deadline."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

import asyncpg

from queries.errors import PoolTimeoutError
from queries.retry import on_a_connection

# After its statement was cancelled, a connection is given this long to confirm the
# cancellation when it is released; then it is closed rather than waited for (a frozen server).
_CANCEL_WAIT_SECONDS = 1.0
# How often the waits for a connection are checked against their deadlines (FairPool._sweep).
_SWEEP_SECONDS = 0.025
_NEVER = float("inf")


class FairPool(asyncpg.Pool):
    """asyncpg's pool, handing connections to waiting tasks in the order they asked.

    With every connection busy, asyncpg's queue gives a released connection to whichever task
    asks next; a waiter that was woken but beaten to it queues again at the back. Under load a
    few requests then wait far longer than the median (benchmarks/README.md, "Findings"). Here a
    task first takes a turn, one per connection, from a FIFO line, and a task holding a turn
    always finds a connection free. (asyncio.Semaphore would do, but it scans all its waiters on
    every acquire.)

    The wait for a turn is bounded (PoolTimeoutError): the queue sheds what it cannot serve in
    time instead of growing without bound. Its shortcuts (fetch, fetchrow, fetchval) run a read
    whose connection was lost once more (queries.retry).
    """

    __slots__ = (
        "_acquire_timeout",
        "_after_wait",
        "_free_turns",
        "_lent",
        "_sweeper",
        "_wait_limit",
        "_waiting",
    )

    def __init__(
        self,
        *args: Any,
        max_size: int,
        acquire_timeout: float | None = None,
        wait_limit: Callable[[float], float] | None = None,
        after_wait: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, max_size=max_size, **kwargs)
        self._acquire_timeout = acquire_timeout
        self._wait_limit = wait_limit
        self._after_wait = after_wait
        self._free_turns = max_size
        # The tasks waiting for a turn, oldest first, as (future, deadline in loop time or inf);
        # done ones (cancelled, timed out) are skipped.
        self._waiting: deque[tuple[asyncio.Future[None], float]] = deque()
        # One timer per pool expires the waits past their deadline (_sweep), rather than a
        # timer per waiting task: under overload most requests wait, and uvloop's call_later
        # costs microseconds each.
        self._sweeper: asyncio.TimerHandle | None = None
        # Connection holder -> the proxy lent out with it: each turn is given back exactly once,
        # by the first release of that proxy, even when asyncpg already took the holder back
        # because the connection was lost.
        self._lent: dict[object, object] = {}

    # asyncpg's one way in: acquire(), fetch() and the other shortcuts all call _acquire().
    async def _acquire(self, timeout: float | None) -> Any:  # noqa: ASYNC109 (asyncpg's signature)
        if self._free_turns > 0:  # then nobody is waiting: turns are handed to waiters first
            self._free_turns -= 1
        else:
            await self._wait_for_turn(timeout)
        try:
            proxy = await super()._acquire(timeout)  # type: ignore[misc]
        except BaseException:
            self._pass_turn()
            raise
        self._lent[proxy._holder] = proxy
        return proxy

    async def _wait_for_turn(self, timeout: float | None) -> None:  # noqa: ASYNC109
        if timeout is None:
            timeout = self._acquire_timeout
        if timeout is not None and self._wait_limit is not None:
            timeout = self._wait_limit(timeout)
        if timeout is not None and timeout <= 0:
            raise PoolTimeoutError("no time left to wait for a database connection")
        loop = asyncio.get_running_loop()
        turn: asyncio.Future[None] = loop.create_future()
        self._waiting.append((turn, _NEVER if timeout is None else loop.time() + timeout))
        if timeout is not None and self._sweeper is None:
            self._sweeper = loop.call_later(_SWEEP_SECONDS, self._sweep)
        try:
            await turn
            if self._after_wait is not None:
                self._after_wait()
        except BaseException:
            if turn.done() and not turn.cancelled() and turn.exception() is None:
                self._pass_turn()  # it was handed a turn: pass it on
            else:
                turn.cancel()
            raise

    def _sweep(self) -> None:
        """Fail the waits past their deadline (PoolTimeoutError), forget the finished ones."""
        now = asyncio.get_running_loop().time()
        waiting: deque[tuple[asyncio.Future[None], float]] = deque()
        for turn, deadline in self._waiting:
            if turn.done():
                continue
            if now >= deadline:
                turn.set_exception(PoolTimeoutError("no database connection became free in time"))
                continue
            waiting.append((turn, deadline))
        self._waiting = waiting
        self._sweeper = (
            asyncio.get_running_loop().call_later(_SWEEP_SECONDS, self._sweep)
            if any(deadline != _NEVER for _, deadline in waiting)
            else None
        )

    async def release(
        self,
        connection: Any,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 (asyncpg's signature)
    ) -> None:
        holder = getattr(connection, "_holder", None)
        returns_turn = holder is not None and self._lent.get(holder) is connection
        if returns_turn:
            del self._lent[holder]
        if timeout is None:
            try:
                if connection._con._protocol._is_cancelling():
                    timeout = _CANCEL_WAIT_SECONDS
            except AttributeError:  # not a live pooled connection: asyncpg says what is wrong
                pass
        try:
            await super().release(connection, timeout=timeout)
        finally:
            if returns_turn:
                self._pass_turn()

    # asyncpg's shortcuts, the same code plus one retry of a read (queries.retry).
    async def fetch(
        self,
        query: str,
        *args: Any,
        timeout: float | None = None,  # noqa: ASYNC109 (asyncpg's signature)
        record_class: Any = None,
    ) -> list[Any]:
        return await on_a_connection(
            self,
            query,
            lambda connection: connection.fetch(
                query, *args, timeout=timeout, record_class=record_class
            ),
        )

    async def fetchrow(
        self,
        query: str,
        *args: Any,
        timeout: float | None = None,  # noqa: ASYNC109 (asyncpg's signature)
        record_class: Any = None,
    ) -> Any:
        return await on_a_connection(
            self,
            query,
            lambda connection: connection.fetchrow(
                query, *args, timeout=timeout, record_class=record_class
            ),
        )

    async def fetchval(
        self,
        query: str,
        *args: Any,
        column: int = 0,
        timeout: float | None = None,  # noqa: ASYNC109 (asyncpg's signature)
    ) -> Any:
        return await on_a_connection(
            self,
            query,
            lambda connection: connection.fetchval(query, *args, column=column, timeout=timeout),
        )

    def waiting(self) -> int:
        """Tasks waiting for a turn, i.e. for a connection."""
        return sum(not turn.done() for turn, _ in self._waiting)

    def _pass_turn(self) -> None:
        """Give a turn to the task that has waited longest, or keep it free for the next one."""
        while self._waiting:
            turn, _ = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self._free_turns += 1
