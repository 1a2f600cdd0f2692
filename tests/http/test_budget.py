"""The request budget and load shedding, in process (tests/faults/test_faults.py: under uvicorn)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest

from api import budget
from api.settings import Settings
from tests.conftest import Account, own_app, problem
from tests.database import wait_until_ended


@pytest.fixture
async def tight(settings: Settings, alice: Account) -> AsyncIterator[httpx.AsyncClient]:
    """An app with a 400 ms budget, a 200 ms connection wait and two pool connections."""
    async with own_app(
        settings,
        request_timeout_ms=400,
        db_acquire_timeout_ms=200,
        db_pool_min_size=2,
        db_pool_max_size=2,
        max_concurrent_requests=20,
    ) as (app, http):
        http.headers.update(alice.headers)
        http.app = app  # type: ignore[attr-defined]
        yield http


async def _timed(http: httpx.AsyncClient, path: str) -> tuple[httpx.Response, float]:
    start = time.perf_counter()
    response = await http.get(path)
    return response, time.perf_counter() - start


async def test_a_request_past_its_budget_is_503_and_its_statement_cancelled(
    tight: httpx.AsyncClient, client: httpx.AsyncClient, alice: Account, database_url: str
) -> None:
    created = await client.post("/api/v1/items", json={"name": "slow"}, headers=alice.headers)
    item_id = created.json()["id"]
    async with await psycopg.AsyncConnection.connect(database_url) as locker:
        await locker.execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
        response, seconds = await _timed(tight, f"/api/v1/items/{item_id}")
        body = problem(response, 503)
        assert "budget" in body["detail"]
        assert response.headers["retry-after"] == "1"
        assert seconds < 1.4  # the budget, the timer's tick and a loaded machine
        await wait_until_ended(database_url, "%FROM items%")
    assert budget.in_flight == {}


async def test_a_sorted_search_past_its_budget_is_503_and_its_statement_cancelled(
    tight: httpx.AsyncClient, database_url: str
) -> None:
    """A search in a sort's order reads every match (docs/api.md#sorting): the budget bounds it
    as any statement, its transaction included."""
    async with await psycopg.AsyncConnection.connect(database_url) as locker:
        await locker.execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
        response, seconds = await _timed(tight, "/api/v1/items?q=slow&sort=name,-created_at")
        body = problem(response, 503)
        assert "budget" in body["detail"]
        assert seconds < 1.4
        await wait_until_ended(database_url, "%item_words%")
    assert budget.in_flight == {}


async def test_waiting_for_a_connection_is_bounded(tight: httpx.AsyncClient) -> None:
    pool: Any = tight.app.state.pool  # type: ignore[attr-defined]
    taken = [await pool.acquire() for _ in range(2)]
    try:
        response, seconds = await _timed(tight, "/api/v1/items?limit=1")
        assert "connection" in problem(response, 503)["detail"]
        assert response.headers["retry-after"] == "1"
        assert seconds < 1.2
        ready = await tight.get("/readyz")  # not blocked by the full pool
        assert ready.status_code == 200
        assert ready.json()["pool"]["state"] == "busy"
    finally:
        for connection in taken:
            await pool.release(connection)
    assert (await tight.get("/api/v1/items?limit=1")).status_code == 200


async def test_past_the_concurrency_limit_requests_are_shed_at_once(
    tight: httpx.AsyncClient,
) -> None:
    pool: Any = tight.app.state.pool  # type: ignore[attr-defined]
    taken = [await pool.acquire() for _ in range(2)]
    try:
        waiting = [asyncio.ensure_future(tight.get("/api/v1/items?limit=1")) for _ in range(20)]
        await asyncio.sleep(0.05)  # 20 requests in flight, each waiting for a connection
        response, seconds = await _timed(tight, "/api/v1/items?limit=1")
        assert "limit of concurrent requests" in problem(response, 503)["detail"]
        assert seconds < 0.2  # before any work, not after a wait
        assert (await tight.get("/healthz")).status_code == 200  # probes are never shed
        answers = await asyncio.gather(*waiting)
        assert {answer.status_code for answer in answers} == {503}
    finally:
        for connection in taken:
            await pool.release(connection)


async def test_a_write_past_its_budget_says_it_may_have_been_applied(
    tight: httpx.AsyncClient, database_url: str
) -> None:
    """A write's statement can commit in the moment it is cancelled: its 503 must not promise
    that nothing was written, as a read's may."""
    async with await psycopg.AsyncConnection.connect(database_url) as locker:
        await locker.execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
        write = problem(await tight.post("/api/v1/items", json={"name": "late"}), 503)
        read = problem(await tight.get("/api/v1/items?limit=1"), 503)
    assert "may have been applied" in write["detail"]
    assert "Idempotency-Key" in write["detail"]
    assert "may have been applied" not in read["detail"]
    assert "budget" in read["detail"]
