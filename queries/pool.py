"""The asyncpg pool: connection set-up, codecs and per-statement timeouts."""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections import deque
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from time import perf_counter
from typing import Any, TypeVar

import asyncpg
import msgspec
from asyncpg import exceptions as pg_errors
from asyncpg.pool import PoolConnectionProxy

from queries.loader import READ_ONLY, STATEMENT_NAMES, load

# Anything that runs statements: the pool, or one connection (inside a transaction).
Executor = asyncpg.Pool | asyncpg.Connection

T = TypeVar("T")

# The connection to PostgreSQL was lost, closed or terminated (pg_terminate_backend, a crash, a
# restart, a reset socket): a statement that was sent may or may not have run.
LOST_CONNECTION: tuple[type[BaseException], ...] = (
    pg_errors.PostgresConnectionError,  # SQLSTATE class 08, e.g. ConnectionDoesNotExistError
    pg_errors.AdminShutdownError,  # 57P01, pg_terminate_backend or a fast shutdown
    pg_errors.CrashShutdownError,  # 57P02
    pg_errors.InterfaceError,  # "connection is closed", "another operation is in progress"
    pg_errors.InternalClientError,  # "cannot switch to state 12; another operation is in progress"
    ConnectionError,  # reset, refused, broken pipe
)
# Every failure that says the database cannot be used right now, as opposed to a bad statement
# or bad data: each is answered 503 with Retry-After, never 500 (api/middleware.py).
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    *LOST_CONNECTION,
    pg_errors.OperatorInterventionError,  # class 57: cannot connect now, query canceled...
    pg_errors.InsufficientResourcesError,  # class 53: too many connections, out of memory
    pg_errors.InvalidAuthorizationSpecificationError,  # class 28: the pool cannot log in
    pg_errors.InvalidCatalogNameError,  # 3D000: the database is gone
    pg_errors.ReadOnlySQLTransactionError,  # 25006: a standby answered after a failover
    pg_errors.LockNotAvailableError,  # 55P03: lock_timeout
    OSError,  # TimeoutError (asyncio's too), unreachable host, DNS
)


class PoolTimeoutError(TimeoutError):
    """No pool connection became free within DB_ACQUIRE_TIMEOUT_MS or the request's budget."""


# After its statement was cancelled, a connection is given this long to confirm the
# cancellation when it is released; then it is closed rather than waited for (a frozen server).
_CANCEL_WAIT_SECONDS = 1.0
# How often the waits for a connection are checked against their deadlines (FairPool._sweep).
_SWEEP_SECONDS = 0.025
_NEVER = float("inf")
_encode_json = msgspec.json.encode
_JSONB_BINARY_VERSION = b"\x01"


def _encode_jsonb(value: object) -> bytes:
    return _JSONB_BINARY_VERSION + _encode_json(value)


def _decode_jsonb(data: bytes) -> msgspec.Raw:
    # jsonb is passed through to the response untouched instead of being parsed and re-encoded.
    return msgspec.Raw(data[1:])


async def init_connection(connection: asyncpg.Connection) -> None:
    """Teach a new connection to exchange jsonb and json as JSON bytes (in) and msgspec.Raw (out).

    json's binary form is its text, so a json value (item_json() of a list page) arrives as the
    very bytes the response carries.
    """
    await connection.set_type_codec(
        "jsonb",
        schema="pg_catalog",
        encoder=_encode_jsonb,
        decoder=_decode_jsonb,
        format="binary",
    )
    await connection.set_type_codec(
        "json", schema="pg_catalog", encoder=_encode_json, decoder=msgspec.Raw, format="binary"
    )


# The planner settings the statements in sql/ were reviewed and measured with; `sql check` and
# the benchmarks' pgbench plan with them too.
PLANNER_SETTINGS = {
    # Short OLTP statements never profit from JIT compilation; it only adds latency.
    "jit": "off",
    # PostgreSQL's default, stated because a role or database setting could override it: a
    # prepared statement gets custom plans for its first five executions, then keeps the
    # generic plan when that is estimated no costlier. Planning is a large share of a short
    # statement (175 of 450 µs for a tag page). The statements whose best plan depends on the
    # values run through fetch_planned_per_execution() instead (sql/README.md, "Plan caching").
    "plan_cache_mode": "auto",
    # The working set is in memory (or on SSD), where a random page read costs about what a
    # sequential one does. At the default of 4 the planner walks 20,000 index entries for a
    # rare tag rather than read its 300 rows through the GIN index.
    "random_page_cost": "1.1",
}


def session_settings(statement_timeout_ms: int, session_parameters: bool) -> dict[str, str]:
    """The startup parameters of the service's connections: application_name items-api and,
    unless `session_parameters` is off (PgBouncer in transaction mode: docs/operations.md), the
    statement timeouts and PLANNER_SETTINGS."""
    settings = {"application_name": "items-api"}
    if session_parameters:
        settings["statement_timeout"] = str(statement_timeout_ms)
        settings["idle_in_transaction_session_timeout"] = str(max(statement_timeout_ms * 2, 10_000))
        settings.update(PLANNER_SETTINGS)
    return settings


async def keep_session(connection: asyncpg.Connection) -> None:
    """Return a connection to the pool as it is.

    asyncpg's default reset sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL` on every release: one more round trip per request. The service never changes
    session state (no SET, LISTEN, advisory lock or cursor outlives a statement), and asyncpg
    still rolls back an open transaction before this hook runs.
    """


async def create_pool(
    dsn: str,
    *,
    min_size: int,
    max_size: int,
    statement_timeout_ms: int,
    statement_cache_size: int = 100,
    session_parameters: bool = True,
    timed: bool = False,
    acquire_timeout_s: float | None = None,
    wait_limit: Callable[[float], float] | None = None,
    after_wait: Callable[[], None] | None = None,
) -> asyncpg.Pool:
    """Open the pool. The statement timeout is set server-side, so it bounds every statement.

    `acquire_timeout_s` bounds the wait for a connection (PoolTimeoutError); `wait_limit(t)`
    may shorten it to what is left of the request's budget, and `after_wait()` may refuse a
    connection given to a request that has meanwhile been abandoned (api/budget.py).
    """
    return await FairPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        acquire_timeout=acquire_timeout_s,
        wait_limit=wait_limit,
        after_wait=after_wait,
        max_queries=50_000,  # asyncpg's default
        max_inactive_connection_lifetime=300.0,  # asyncpg's default
        loop=None,
        statement_cache_size=statement_cache_size,
        init=init_connection,
        reset=keep_session,
        connection_class=TimedConnection if timed else asyncpg.Connection,
        record_class=asyncpg.Record,
        server_settings=session_settings(statement_timeout_ms, session_parameters),
    )


PLAN_FOR_VALUES = load("session/plan_for_values")


async def fetch_planned_per_execution(
    db: Executor, query: str, *args: object
) -> list[asyncpg.Record]:
    """Run `query` planned for these very values (a custom plan), however often it runs.

    For a statement whose best plan depends on its values, which PostgreSQL would otherwise
    trade for one generic plan after five executions. The setting is made for one transaction
    (three more round trips than `fetch`), so it holds behind PgBouncer in transaction mode
    too, and no connection keeps it.
    """
    if isinstance(db, asyncpg.Pool):
        try:
            async with db.acquire() as connection:
                return await _fetch_in_custom_plan_transaction(connection, query, args)
        except LOST_CONNECTION:
            if query not in READ_ONLY:
                raise
        async with db.acquire() as connection:  # once more, on a fresh connection
            return await _fetch_in_custom_plan_transaction(connection, query, args)
    return await _fetch_in_custom_plan_transaction(db, query, args)


async def _fetch_in_custom_plan_transaction(
    connection: asyncpg.Connection | PoolConnectionProxy[asyncpg.Record],
    query: str,
    args: tuple[object, ...],
) -> list[asyncpg.Record]:
    async with connection.transaction():
        await connection.execute(PLAN_FOR_VALUES)
        return await connection.fetch(query, *args)


class FairPool(asyncpg.Pool):
    """asyncpg's pool, handing connections to waiting tasks in the order they asked.

    With every connection busy, asyncpg's queue gives a released connection to whichever task
    asks next; a waiter that was woken but beaten to it queues again at the back. Under load a
    few requests then wait hundreds of milliseconds while the median stays at a few (measured in
    benchmarks/README.md). Here a task first takes a turn, one per connection, from a FIFO line,
    and a task holding a turn always finds a connection free. (asyncio.Semaphore would do, but
    it scans all its waiters on every acquire.)

    The wait for a turn is bounded (PoolTimeoutError): the queue sheds what it cannot serve in
    time instead of growing without bound. A read-only statement (queries.loader.READ_ONLY)
    whose connection was lost before its rows came back runs once more on a fresh connection;
    a write is never run twice, since it may have been committed before the loss.
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

    # asyncpg's shortcuts, the same code plus one retry of a read (the class docstring).
    async def fetch(
        self,
        query: str,
        *args: Any,
        timeout: float | None = None,  # noqa: ASYNC109 (asyncpg's signature)
        record_class: Any = None,
    ) -> list[Any]:
        try:
            async with self.acquire() as connection:
                return await connection.fetch(  # type: ignore[no-any-return]
                    query, *args, timeout=timeout, record_class=record_class
                )
        except LOST_CONNECTION:
            if query not in READ_ONLY:
                raise
        async with self.acquire() as connection:
            return await connection.fetch(  # type: ignore[no-any-return]
                query, *args, timeout=timeout, record_class=record_class
            )

    async def fetchrow(
        self,
        query: str,
        *args: Any,
        timeout: float | None = None,  # noqa: ASYNC109 (asyncpg's signature)
        record_class: Any = None,
    ) -> Any:
        try:
            async with self.acquire() as connection:
                return await connection.fetchrow(
                    query, *args, timeout=timeout, record_class=record_class
                )
        except LOST_CONNECTION:
            if query not in READ_ONLY:
                raise
        async with self.acquire() as connection:
            return await connection.fetchrow(
                query, *args, timeout=timeout, record_class=record_class
            )

    async def fetchval(
        self,
        query: str,
        *args: Any,
        column: int = 0,
        timeout: float | None = None,  # noqa: ASYNC109 (asyncpg's signature)
    ) -> Any:
        try:
            async with self.acquire() as connection:
                return await connection.fetchval(query, *args, column=column, timeout=timeout)
        except LOST_CONNECTION:
            if query not in READ_ONLY:
                raise
        async with self.acquire() as connection:
            return await connection.fetchval(query, *args, column=column, timeout=timeout)

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


class DatabaseTimer:
    """Seconds spent in statements during one request, summed by TimedConnection."""

    __slots__ = ("seconds",)

    def __init__(self) -> None:
        self.seconds = 0.0


current_timer: ContextVar[DatabaseTimer | None] = ContextVar("current_timer", default=None)

# Upper bounds (seconds) of the statement-duration histogram; the last one is +Inf.
STATEMENT_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, float("inf")
)  # fmt: skip


class StatementTimes:
    """Durations of the statements this process ran, by their sql/ name, since the last `take`.

    A histogram per statement (counts per STATEMENT_BUCKETS bound, and the sum in seconds),
    kept in plain lists so that a statement costs a dict lookup and two additions; api.metrics
    publishes them. Statements not loaded from sql/ (BEGIN, COMMIT) are not counted.
    """

    __slots__ = ("_by_name",)

    def __init__(self) -> None:
        self._by_name: dict[str, list[float]] = {}

    def observe(self, query: str, seconds: float) -> None:
        name = STATEMENT_NAMES.get(query)
        if name is None:
            return
        counts = self._by_name.get(name)
        if counts is None:
            counts = self._by_name[name] = [0.0] * (len(STATEMENT_BUCKETS) + 1)
        counts[bisect_left(STATEMENT_BUCKETS, seconds)] += 1
        counts[-1] += seconds

    def take(self) -> dict[str, list[float]]:
        """Statement name -> [count per bucket..., sum of seconds]; starts counting afresh."""
        taken, self._by_name = self._by_name, {}
        return taken


# One per process: every TimedConnection of every pool adds to it.
statement_times = StatementTimes()


async def _timed(call: Awaitable[T], query: str) -> T:
    start = perf_counter()
    try:
        return await call
    finally:
        elapsed = perf_counter() - start
        timer = current_timer.get()
        if timer is not None:
            timer.seconds += elapsed
        statement_times.observe(query, elapsed)


class TimedConnection(asyncpg.Connection):
    """A connection that times each statement: for the request's DatabaseTimer (Server-Timing)
    and for the statement-duration metrics."""

    def fetch(self, query: str, *args: Any, **kwargs: Any) -> Awaitable[list[asyncpg.Record]]:  # type: ignore[override]
        return _timed(super().fetch(query, *args, **kwargs), query)

    def fetchrow(self, query: str, *args: Any, **kwargs: Any) -> Awaitable[asyncpg.Record | None]:  # type: ignore[override]
        return _timed(super().fetchrow(query, *args, **kwargs), query)

    def fetchval(self, query: str, *args: Any, **kwargs: Any) -> Awaitable[Any]:  # type: ignore[override]
        return _timed(super().fetchval(query, *args, **kwargs), query)

    def execute(self, query: str, *args: Any, **kwargs: Any) -> Awaitable[str]:  # type: ignore[override]
        return _timed(super().execute(query, *args, **kwargs), query)
