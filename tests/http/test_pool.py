"""The pool hands connections to waiting tasks in the order they asked (queries/fair_pool.py)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta, timezone

import asyncpg
import psycopg
import pytest

from queries import items
from queries.fair_pool import FairPool
from queries.pool import create_pool, fetch_planned_per_execution


async def one_connection_pool(database_url: str) -> FairPool:
    pool = await create_pool(database_url, min_size=1, max_size=1, statement_timeout_ms=5_000)
    assert isinstance(pool, FairPool)
    return pool


async def test_connections_go_to_tasks_in_the_order_they_asked(database_url: str) -> None:
    # Requests keep arriving while both connections are busy, as under load. asyncpg's own queue
    # gives a released connection to whichever task asks next, so a newcomer can take it ahead
    # of tasks that have waited longer (the p99 of the paging benchmark was 40x its median).
    pool = await create_pool(database_url, min_size=2, max_size=2, statement_timeout_ms=5_000)
    served: list[int] = []

    async def request(number: int) -> None:
        async with pool.acquire() as connection:
            served.append(number)
            await connection.fetchval("SELECT 1")

    try:
        tasks = []
        for number in range(1500):
            tasks.append(asyncio.create_task(request(number)))
            if number % 5 == 4:  # a few new requests per turn of the event loop
                await asyncio.sleep(0)
        await asyncio.gather(*tasks)
    finally:
        await pool.close()
    assert served == list(range(1500))


async def test_released_twice_does_not_admit_an_extra_task(database_url: str) -> None:
    pool = await one_connection_pool(database_url)
    try:
        connection = await pool.acquire()
        await pool.release(connection)
        await pool.release(connection)  # asyncpg ignores it; so must the admission count
        first = await pool.acquire()
        second = asyncio.ensure_future(pool.acquire())
        await asyncio.sleep(0.05)
        assert not second.done()  # one connection, already taken
        await pool.release(first)
        await pool.release(await asyncio.wait_for(second, 5))
    finally:
        await pool.close()


async def test_cancelled_waiters_do_not_lose_a_turn(database_url: str) -> None:
    pool = await one_connection_pool(database_url)
    try:
        held = await pool.acquire()
        waiters = [asyncio.ensure_future(pool.acquire()) for _ in range(3)]
        await asyncio.sleep(0.05)
        waiters[0].cancel()  # cancelled while waiting for its turn
        await pool.release(held)
        waiters[1].cancel()  # cancelled once handed its turn (or its connection): passes it on
        with contextlib.suppress(asyncio.CancelledError):
            await pool.release(await waiters[1])
        await pool.release(await asyncio.wait_for(waiters[2], 5))
        await pool.release(await asyncio.wait_for(pool.acquire(), 5))  # the one turn is free
    finally:
        await pool.close()


async def test_a_connection_lost_while_lent_gives_its_turn_back(database_url: str) -> None:
    pool = await one_connection_pool(database_url)
    try:
        async with asyncio.timeout(10):  # a lost turn would leave the next acquire waiting
            for _ in range(3):  # asyncpg takes the holder back before release() is called
                async with pool.acquire() as connection:
                    connection.terminate()
            assert await pool.fetchval("SELECT 1") == 1
    finally:
        await pool.close()


async def test_a_foreign_release_gives_no_extra_turn(database_url: str) -> None:
    pool = await one_connection_pool(database_url)
    other = await one_connection_pool(database_url)
    try:
        stranger = await other.acquire()
        with contextlib.suppress(asyncpg.InterfaceError):  # asyncpg refuses it
            await pool.release(stranger)
        await other.release(stranger)
        first = await pool.acquire()
        second = asyncio.ensure_future(pool.acquire())
        await asyncio.sleep(0.05)
        assert not second.done()  # still one turn for one connection
        await pool.release(first)
        await pool.release(await asyncio.wait_for(second, 5))
    finally:
        await pool.close()
        await other.close()


async def test_an_acquire_that_times_out_in_line_loses_no_turn(database_url: str) -> None:
    pool = await one_connection_pool(database_url)
    try:
        held = await pool.acquire()
        with contextlib.suppress(TimeoutError):
            await pool.acquire(timeout=0.05)
            raise AssertionError("acquired a connection that was taken")
        await pool.release(held)
        await pool.release(await asyncio.wait_for(pool.acquire(), 5))
    finally:
        await pool.close()


async def test_planned_per_execution_never_turns_to_the_generic_plan(database_url: str) -> None:
    # The pool's statements run their generic plans (plan_cache_mode=force_generic_plan); the
    # statements run by fetch_planned_per_execution() must not.
    pool = await one_connection_pool(database_url)
    per_execution = "SELECT $1::int + 1 AS n"
    cached = per_execution + " -- as a plain fetch"
    try:
        for n in range(8):
            rows = await fetch_planned_per_execution(pool, per_execution, n)
            assert [row["n"] for row in rows] == [n + 1]
            assert await pool.fetchval(cached, n) == n + 1
        async with pool.acquire() as connection:
            assert await connection.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
            prepared = await connection.fetch(
                "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
            )
            async with connection.transaction():  # also on a connection in a transaction
                rows = await fetch_planned_per_execution(connection, per_execution, 41)
                assert [row["n"] for row in rows] == [42]
    finally:
        await pool.close()
    plans = {row["statement"]: (row["generic_plans"], row["custom_plans"]) for row in prepared}
    assert plans[cached][0] > 0
    assert plans[per_execution] == (0, 8)


async def test_the_list_statements_run_their_generic_plans(database_url: str) -> None:
    """Every list statement that is not planned per execution runs the generic plan `sql check`
    proves, from its first execution on: under `auto` a CASE on the fields parameter made the
    generic plan look costlier, and PostgreSQL planned each page afresh."""
    pool = await one_connection_pool(database_url)
    where = items.ItemFilter()
    try:
        for sort in (None, *items.SORTS):
            for fields in (None, ["id", "name"]):
                for _ in range(7):
                    await items.find(pool, where, 5, None, 1_000_000, sort, fields)
        async with pool.acquire() as connection:
            prepared = await connection.fetch(
                "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
            )
    finally:
        await pool.close()
    lists = {row["statement"]: row for row in prepared if "item_json(" in row["statement"]}
    assert len(lists) >= len(items.SORTS)  # one statement per sort at least
    for statement, row in lists.items():
        assert (row["custom_plans"], row["generic_plans"] > 0) == (0, True), statement[:300]


async def test_an_argument_the_driver_cannot_encode_leaves_no_session_in_a_transaction(
    database_url: str,
) -> None:
    """A first execution whose argument asyncpg cannot encode (a date past year 9999 in UTC)
    left its session active in a transaction, holding its locks, until the connection was used
    again: a migration's ALTER TABLE would wait behind it."""
    pool = await one_connection_pool(database_url)
    beyond = datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-1)))
    try:
        with pytest.raises(asyncpg.DataError):
            await pool.fetch("SELECT $1::timestamptz AS never_run_before", beyond)
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as watcher:
            cursor = await watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND application_name = 'items-api' AND xact_start IS NOT NULL"
            )
            assert await cursor.fetchone() == (0,)
        assert await pool.fetchval("SELECT 1") == 1
    finally:
        await pool.close()


def test_only_statements_that_change_nothing_may_be_retried() -> None:
    # A read whose connection was lost runs again; a write must never be taken for one.
    from queries.loader import all_statement_names, is_read_only, load

    read_only = {name for name in all_statement_names() if is_read_only(load(name))}
    assert {name for name in read_only if not name.startswith("tooling/")} == {
        "api_keys/authenticate",
        "api_keys/list_by_key",
        "api_keys/list_by_user",
        "health/ping",
        "replication/primary_position",
        "replication/replay_position",
        "idempotency/find",  # its clean-up moved to the periodic sweep
        "items/count_by_metadata",
        "items/count_by_name",
        "items/count_by_tags_all",
        "items/count_by_tags_any",
        "items/count_by_word",
        "items/count_owned",
        "items/count_recent",
        "items/estimate_count",
        "items/estimate_matching",
        "items/get_by_id",
        "items/get_by_ids",
        "items/get_fields_by_id",
        "items/import_duplicates",  # these two read the import's temporary table: they run only
        "items/import_refused",  # inside its transaction, on its connection, never retried
        "items/list_by_metadata",
        "items/list_by_name",
        "items/list_by_name_created_at",
        "items/list_by_name_created_at_desc",
        "items/list_by_name_desc",
        "items/list_by_name_desc_created_at",
        "items/list_by_name_desc_created_at_desc",
        "items/list_by_name_desc_first",
        "items/list_by_name_desc_updated_at",
        "items/list_by_name_desc_updated_at_desc",
        "items/list_by_name_updated_at",
        "items/list_by_name_updated_at_desc",
        "items/list_by_tags_all",
        "items/list_by_tags_any",
        "items/list_by_updated_at",
        "items/list_by_updated_at_desc",
        "items/list_oldest",
        "items/list_recent",
        "items/search_by_name",
        "items/search_by_word",
        "items/search_sorted",
        "users/get_by_id",
        "users/get_credentials",
        "users/get_id_by_email",
        "users/get_token_check",
        "users/list_page",
    }
    assert not is_read_only("WITH gone AS (DELETE FROM items RETURNING id) SELECT id FROM gone")
    assert not is_read_only("SELECT id FROM items FOR UPDATE")
    assert not is_read_only("SELECT pg_try_advisory_xact_lock(1)")
    assert not is_read_only("SELECT set_config('statement_timeout', $1, TRUE)")
    assert is_read_only("-- UPDATE in a comment only\nSELECT updated_at FROM items")
    assert is_read_only("EXPLAIN (FORMAT JSON) SELECT 1 FROM items")
    assert not is_read_only("EXPLAIN (ANALYZE) DELETE FROM items")
    assert not is_read_only("EXPLAIN ANALYZE SELECT nextval('s')")
