"""Coalesced point reads (COALESCE_READS, queries/coalesce.py): through the app, and the batching
itself with deadlines of the test's choosing, on the test database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID, uuid4

import httpx
import psycopg
import pytest

from api.settings import Settings
from queries import items
from queries.coalesce import PointReads
from queries.errors import BudgetSpentError
from tests.conftest import Account, own_app, problem
from tests.database import wait_until_blocked, wait_until_ended

INF = float("inf")


class Batches:
    """The batches one PointReads ran, counted by the test itself: the shared batch-size tally
    is also drained by any running app's metrics publisher, at moments of its own."""

    def __init__(self) -> None:
        self._sizes: list[int] = []

    def watch(self, reads: PointReads) -> None:
        fetch = reads._fetch

        async def counted(keys: list[Any], deadline: float) -> Any:
            rows = await fetch(keys, deadline)
            self._sizes.append(len(keys))
            return rows

        reads._fetch = counted  # type: ignore[method-assign]

    def take(self) -> tuple[int, int]:
        """(keys looked up, batches run) since the last call."""
        sizes, self._sizes = self._sizes, []
        return sum(sizes), len(sizes)


@pytest.fixture
def batches() -> Batches:
    return Batches()


@pytest.fixture
async def one_runner(
    settings: Settings, alice: Account, batches: Batches
) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose reads are coalesced by one runner, and a client signed in as alice."""
    async with own_app(settings, coalesce_reads=True, coalesce_runners=1) as (app, http):
        batches.watch(app.state.point_reads)
        http.headers.update(alice.headers)
        yield http


async def _create(http: httpx.AsyncClient, name: str) -> dict[str, Any]:
    response = await http.post("/api/v1/items", json={"name": name})
    assert response.status_code == 201
    body: dict[str, Any] = response.json()
    body["etag"] = response.headers["etag"]
    return body


@asynccontextmanager
async def _locked(database_url: str) -> AsyncIterator[None]:
    """The items table locked by another transaction until the block ends: statements on it
    wait (and batches stay in flight)."""
    async with await psycopg.AsyncConnection.connect(database_url) as locker:
        await locker.execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
        yield


async def _pending(reads: PointReads, keys: int) -> None:
    """Until the next batch holds `keys` keys."""
    for _ in range(500):
        if len(reads._pending) >= keys:
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"the next batch never held {keys} keys")


async def test_reads_that_arrive_during_a_batch_share_the_next_one(
    one_runner: httpx.AsyncClient, database_url: str, batches: Batches
) -> None:
    """Hits, misses, a repeated id, a conditional GET and a HEAD: one statement for all."""
    first, second, third = [await _create(one_runner, name) for name in ("a", "b", "c")]
    missing = str(uuid4())
    batches.take()
    async with _locked(database_url):
        blocked = asyncio.create_task(one_runner.get(f"/api/v1/items/{first['id']}"))
        await wait_until_blocked(database_url)
        arriving = [
            one_runner.get(f"/api/v1/items/{second['id']}"),
            one_runner.get(f"/api/v1/items/{second['id']}"),
            one_runner.get(f"/api/v1/items/{missing}"),
            one_runner.get(f"/api/v1/items/{missing}"),
            one_runner.get(
                f"/api/v1/items/{first['id']}", headers={"If-None-Match": first["etag"]}
            ),
            one_runner.head(f"/api/v1/items/{third['id']}"),
            one_runner.get(f"/api/v1/items/{third['id']}", headers={"If-Match": '"stale"'}),
        ]
        answers = asyncio.gather(*arriving)
        await asyncio.sleep(0.3)  # every request has reached its wait for the next batch
    assert (await blocked).json()["name"] == "a"
    b1, b2, gone1, gone2, unchanged, head, stale = await answers
    assert b1.json() == b2.json()
    assert b1.json()["name"] == "b"
    problem(gone1, 404)
    problem(gone2, 404)
    assert unchanged.status_code == 304
    assert unchanged.headers["etag"] == first["etag"]
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["etag"] == third["etag"]
    problem(stale, 412)
    # The first batch held one id; the second the four distinct ids asked for meanwhile.
    assert batches.take() == (1 + 4, 2)


async def test_a_read_never_joins_a_batch_already_running(
    one_runner: httpx.AsyncClient, database_url: str, batches: Batches
) -> None:
    """A batch that started before a request arrived may hold rows older than a write answered
    before it: the request waits for the next batch, even for the same id."""
    item = await _create(one_runner, "before")
    batches.take()
    async with _locked(database_url):
        running = asyncio.create_task(one_runner.get(f"/api/v1/items/{item['id']}"))
        await wait_until_blocked(database_url)
        later = asyncio.create_task(one_runner.get(f"/api/v1/items/{item['id']}"))
        await asyncio.sleep(0.2)
        assert not later.done()
    assert (await running).status_code == 200
    assert (await later).status_code == 200
    assert batches.take() == (2, 2)  # two batches of one


async def test_a_read_sees_the_write_answered_before_it(
    one_runner: httpx.AsyncClient,
) -> None:
    """Under a steady stream of reads of the same item, each read after a write's answer sees it."""
    item = await _create(one_runner, "version 0")
    path = f"/api/v1/items/{item['id']}"
    stop = asyncio.Event()

    async def keep_reading() -> None:
        while not stop.is_set():
            assert (await one_runner.get(path)).status_code == 200

    readers = [asyncio.create_task(keep_reading()) for _ in range(6)]
    try:
        for version in range(1, 30):
            written = await one_runner.put(path, json={"name": f"version {version}"})
            assert written.status_code == 200
            read = await one_runner.get(path)
            assert read.json()["name"] == f"version {version}"
            assert read.headers["etag"] == written.headers["etag"]
    finally:
        stop.set()
        await asyncio.gather(*readers)


# The batching itself, on the shared app's pool, with deadlines the tests choose per task.


@pytest.fixture
async def reads(app: Any, batches: Batches) -> AsyncIterator[tuple[PointReads, dict[Any, float]]]:
    """Point reads of items by one runner; each task's deadline is what the test puts in the
    dict for it (none: inf)."""
    deadlines: dict[Any, float] = {}
    point_reads = PointReads(
        app.state.pool,
        items.GET_BY_IDS,
        max_batch=3,
        runners=1,
        deadline=lambda: deadlines.get(asyncio.current_task(), INF),
        acquire_timeout_s=1.0,
    )
    batches.watch(point_reads)
    yield point_reads, deadlines
    await point_reads.close()


async def _item_ids(client: httpx.AsyncClient, alice: Account, count: int) -> list[UUID]:
    client.headers.update(alice.headers)
    return [UUID((await _create(client, f"item {n}"))["id"]) for n in range(count)]


def _ask(
    reads: PointReads, deadlines: dict[Any, float], key: UUID, seconds: float = INF
) -> asyncio.Task[Any]:
    async def ask() -> Any:
        deadlines[asyncio.current_task()] = time.perf_counter() + seconds
        return await reads.get(key)

    return asyncio.create_task(ask())


async def test_a_batch_holds_at_most_its_maximum(
    reads: tuple[PointReads, dict[Any, float]],
    client: httpx.AsyncClient,
    alice: Account,
    batches: Batches,
) -> None:
    point_reads, deadlines = reads
    ids = await _item_ids(client, alice, 7)
    rows = await asyncio.gather(*(_ask(point_reads, deadlines, key) for key in ids))
    assert [row["id"] for row in rows] == ids
    assert batches.take() == (7, 3)  # 3, 3 and 1


async def test_the_batch_goes_on_for_the_others_when_one_leaves(
    reads: tuple[PointReads, dict[Any, float]],
    client: httpx.AsyncClient,
    alice: Account,
    database_url: str,
    batches: Batches,
) -> None:
    point_reads, deadlines = reads
    first, second = await _item_ids(client, alice, 2)
    async with _locked(database_url):
        leaving = _ask(point_reads, deadlines, first)
        staying = _ask(point_reads, deadlines, second)
        await wait_until_blocked(database_url)
        leaving.cancel()  # what the budget's timer does to a request past its deadline
        await asyncio.sleep(0.1)
    assert (await staying)["id"] == second
    assert leaving.cancelled()
    assert batches.take() == (2, 1)


async def test_no_statement_runs_for_a_batch_whose_requests_all_left(
    reads: tuple[PointReads, dict[Any, float]],
    client: httpx.AsyncClient,
    alice: Account,
    database_url: str,
    batches: Batches,
) -> None:
    point_reads, deadlines = reads
    first, second, third = await _item_ids(client, alice, 3)
    async with _locked(database_url):
        running = _ask(point_reads, deadlines, first)
        await wait_until_blocked(database_url)
        gone = [_ask(point_reads, deadlines, key) for key in (second, third)]
        await _pending(point_reads, 2)
        for task in gone:
            task.cancel()
        await asyncio.sleep(0)
    assert (await running)["id"] == first
    await asyncio.sleep(0.1)
    assert batches.take() == (1, 1)  # the second batch never ran


async def test_a_batch_statement_ends_with_the_longest_budget_it_serves(
    reads: tuple[PointReads, dict[Any, float]],
    client: httpx.AsyncClient,
    alice: Account,
    database_url: str,
) -> None:
    point_reads, deadlines = reads
    first, second = await _item_ids(client, alice, 2)
    async with _locked(database_url):
        start = time.perf_counter()
        short = _ask(point_reads, deadlines, first, 0.2)
        longest = _ask(point_reads, deadlines, second, 0.6)
        for task in (short, longest):
            with pytest.raises(BudgetSpentError):
                await task
        assert 0.55 < time.perf_counter() - start < 1.5
        await wait_until_ended(database_url, "%= ANY($1::uuid[])%")


async def test_a_batch_whose_connection_is_lost_runs_once_more(
    reads: tuple[PointReads, dict[Any, float]],
    client: httpx.AsyncClient,
    alice: Account,
    database_url: str,
    batches: Batches,
) -> None:
    point_reads, deadlines = reads
    (item_id,) = await _item_ids(client, alice, 1)
    async with _locked(database_url):
        reading = _ask(point_reads, deadlines, item_id, 5.0)
        await wait_until_blocked(database_url)
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as db:
            await db.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND state = 'active'"
                " AND query LIKE '%= ANY($1::uuid[])%' AND pid <> pg_backend_pid()"
            )
        await wait_until_blocked(database_url)  # the second try, on a fresh connection
    assert (await reading)["id"] == item_id
    assert batches.take() == (1, 1)
