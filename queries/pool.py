"""Open the pool: how its sessions are set up, and statements planned for their values."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from queries.codecs import init_connection
from queries.fair_pool import FairPool
from queries.loader import load
from queries.retry import on_a_connection
from queries.timing import TimedConnection

# Anything that runs statements: the pool, or one connection (inside a transaction).
Executor = asyncpg.Pool | asyncpg.Connection


# The planner settings the statements in sql/ were reviewed and measured with; `sql check` and
# the benchmarks' pgbench plan with them too.
PLANNER_SETTINGS = {
    # Short OLTP statements never profit from JIT compilation; it only adds latency.
    "jit": "off",
    # Every prepared statement runs its generic plan, which `sql check` proves, planned once per
    # connection: planning is a large share of a short statement. Under PostgreSQL's `auto` a
    # statement keeps custom plans for good when its generic plan is estimated costlier, as a
    # CASE on a parameter makes it (the `fields` of the list statements). The statements whose
    # best plan depends on the values run through fetch_planned_per_execution() instead
    # (sql/README.md, "Plan caching").
    "plan_cache_mode": "force_generic_plan",
    # The working set is in memory (or on SSD), where a random page read costs about what a
    # sequential one does. At the default of 4 the planner walks items_created_at_id for a rare
    # tag rather than read its few rows through the GIN index (sql/README.md, "Planner cost
    # settings").
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
    read_only: bool = False,
    connect_timeout_s: float = 60.0,
) -> asyncpg.Pool:
    """Open the pool. The statement timeout is set server-side, so it bounds every statement.

    `acquire_timeout_s` bounds the wait for a connection (PoolTimeoutError); `wait_limit(t)`
    may shorten it to what is left of the request's budget, and `after_wait()` may refuse a
    connection given to a request that has meanwhile been abandoned (api/budget.py).

    `read_only` (a replica's pool) starts each session with default_transaction_read_only=on,
    unless `session_parameters` is off (then the replica's role must set it:
    docs/scaling.md): a write sent there by mistake fails. Such a pool opens no connection
    before its first statement, so a replica that is down does not stop the service starting.
    """
    server_settings = session_settings(statement_timeout_ms, session_parameters)
    if read_only and session_parameters:
        server_settings["default_transaction_read_only"] = "on"
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
        server_settings=server_settings,
        timeout=connect_timeout_s,  # asyncpg.connect's: the longest wait to open a connection
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
        return await on_a_connection(
            db, query, lambda connection: _fetch_in_custom_plan_transaction(connection, query, args)
        )
    return await _fetch_in_custom_plan_transaction(db, query, args)


async def _fetch_in_custom_plan_transaction(
    connection: asyncpg.Connection | PoolConnectionProxy[asyncpg.Record],
    query: str,
    args: tuple[object, ...],
) -> list[asyncpg.Record]:
    async with connection.transaction():
        await connection.execute(PLAN_FOR_VALUES)
        return await connection.fetch(query, *args)
