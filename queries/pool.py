"""The asyncpg pool: connection set-up, codecs and per-statement timeouts."""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections import deque
from collections.abc import Awaitable
from contextvars import ContextVar
from time import perf_counter
from typing import Any, TypeVar

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy

from queries.loader import STATEMENT_NAMES, load

# Anything that runs statements: the pool, or one connection (inside a transaction).
Executor = asyncpg.Pool | asyncpg.Connection

T = TypeVar("T")
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


def _session_parameters(statement_timeout_ms: int) -> dict[str, str]:
    """Settings every pooled connection starts with, sent as startup parameters."""
    return {
        "statement_timeout": str(statement_timeout_ms),
        "idle_in_transaction_session_timeout": str(max(statement_timeout_ms * 2, 10_000)),
        **PLANNER_SETTINGS,
    }


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
) -> asyncpg.Pool:
    """Open the pool. The statement timeout is set server-side, so it bounds every statement."""
    return await FairPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        max_queries=50_000,  # asyncpg's default
        max_inactive_connection_lifetime=300.0,  # asyncpg's default
        loop=None,
        statement_cache_size=statement_cache_size,
        init=init_connection,
        reset=keep_session,
        connection_class=TimedConnection if timed else asyncpg.Connection,
        record_class=asyncpg.Record,
        server_settings=(
            {"application_name": "items-api", **_session_parameters(statement_timeout_ms)}
            if session_parameters
            else {"application_name": "items-api"}
        ),
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
        async with db.acquire() as connection:
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
    """

    __slots__ = ("_free_turns", "_lent", "_waiting")

    def __init__(self, *args: Any, max_size: int, **kwargs: Any) -> None:
        super().__init__(*args, max_size=max_size, **kwargs)
        self._free_turns = max_size
        # Futures of the tasks waiting for a turn, oldest first; cancelled ones are skipped.
        self._waiting: deque[asyncio.Future[None]] = deque()
        # Connection holder -> the proxy lent out with it: each turn is given back exactly once,
        # by the first release of that proxy, even when asyncpg already took the holder back
        # because the connection was lost.
        self._lent: dict[object, object] = {}

    # asyncpg's one way in: acquire(), fetch() and the other shortcuts all call _acquire().
    async def _acquire(self, timeout: float | None) -> Any:  # noqa: ASYNC109 (asyncpg's signature)
        if self._free_turns > 0:  # then nobody is waiting: turns are handed to waiters first
            self._free_turns -= 1
        else:
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.append(turn)
            try:
                await (turn if timeout is None else asyncio.wait_for(turn, timeout))
            except BaseException:
                if turn.done() and not turn.cancelled():  # it was handed a turn: pass it on
                    self._pass_turn()
                else:
                    turn.cancel()
                raise
        try:
            proxy = await super()._acquire(timeout)  # type: ignore[misc]
        except BaseException:
            self._pass_turn()
            raise
        self._lent[proxy._holder] = proxy
        return proxy

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
        try:
            await super().release(connection, timeout=timeout)
        finally:
            if returns_turn:
                self._pass_turn()

    def waiting(self) -> int:
        """How many tasks are waiting for a connection now."""
        return sum(not turn.done() for turn in self._waiting)

    def _pass_turn(self) -> None:
        """Give a turn to the task that has waited longest, or keep it free for the next one."""
        while self._waiting:
            turn = self._waiting.popleft()
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
