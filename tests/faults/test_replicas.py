"""Read replicas (issue 23): the app in this process on a private primary and a streaming standby
of it (initdb, pg_basebackup -R; never the shared server). Lag is made deterministic with
pg_wal_replay_pause(); every wait polls for a state, none sleeps for a fixed time.

One primary and standby pair serves the module; each test leaves the standby replaying and in
the rotation. The standby runs with max_standby_streaming_delay=0, so a replayed lock that a
read on it holds up cancels that read at once (a recovery conflict).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import msgspec
import psycopg
import pytest

from api import migrate
from api.app import create_app
from api.auth import tokens
from api.auth.passwords import hash_password
from api.settings import Settings
from queries import items, replicas, users
from queries.pool import create_pool
from tests.cluster import PG_BIN, Cluster
from tests.conftest import CLIENT_ADDRESS, TEST_SECRET_KEY

pytestmark = pytest.mark.skipif(
    not (PG_BIN / "pg_basebackup").exists(), reason=f"no PostgreSQL binaries in {PG_BIN}"
)

MAX_LAG_MS = 600
# How long a test polls for a state before it fails: generous, since a loaded machine is slow;
# a passing run takes a fraction of it.
PATIENCE_S = 20.0
STANDBY_OPTIONS = "-c max_standby_streaming_delay=0 -c hot_standby_feedback=off"


@dataclass
class Pair:
    primary: Cluster
    standby: Cluster

    @property
    def primary_url(self) -> str:
        return self.primary.database_url("items")

    @property
    def standby_url(self) -> str:
        return self.standby.database_url("items")


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    root = Path(tempfile.mkdtemp(prefix="items-replicas-"))
    (root / "primary").mkdir()
    (root / "standby").mkdir()
    if os.geteuid() == 0:  # the servers run as postgres (tests/cluster.py): let it in
        shutil.chown(root, "postgres")
    primary, standby = Cluster(root / "primary"), Cluster(root / "standby")
    try:
        primary.init()
        primary.start()
        with psycopg.connect(primary.url, autocommit=True) as connection:
            connection.execute("CREATE DATABASE items")
        migrate.up(primary.database_url("items"))
        standby.base_backup(primary)
        standby.start(options=STANDBY_OPTIONS)
        yield Pair(primary, standby)
    finally:
        standby.stop()
        primary.stop()
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Service:
    app: Any
    http: httpx.AsyncClient
    headers: dict[str, str]

    @property
    def replica_set(self) -> replicas.ReplicaSet:
        replica_set: replicas.ReplicaSet = self.app.state.replicas
        return replica_set


@pytest.fixture(scope="module")
async def service(pair: Pair) -> AsyncIterator[Service]:
    settings = Settings(
        environment="test",
        secret_key=TEST_SECRET_KEY,
        database_url=pair.primary_url,
        database_replica_urls=pair.standby_url,
        replica_max_lag_ms=MAX_LAG_MS,
        replica_wait_ms=50,
        db_pool_min_size=1,
        db_pool_max_size=5,
        sweep_seconds=86400,
        principal_max_concurrency=1000,
        access_log=False,
    )
    application = create_app(settings)
    await application.start()
    try:
        user = await users.create(
            application.state.pool,
            "replicas@example.com",
            await hash_password("replica tests password"),
            ["items:read", "items:write"],
        )
        token = tokens.issue(TEST_SECRET_KEY, user.id, user.scopes, 3600, 0)
        transport = httpx.ASGITransport(app=application, client=CLIENT_ADDRESS)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", timeout=30
        ) as http:
            yield Service(application, http, {"Authorization": f"Bearer {token}"})
    finally:
        await application.stop()


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll `check` until it holds; fail after PATIENCE_S."""
    deadline = time.monotonic() + PATIENCE_S
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"never: {what}")
        await asyncio.sleep(0.02)


async def standby_sql(pair: Pair, statement: str) -> Any:
    connection = await asyncpg.connect(pair.standby.url)
    try:
        return await connection.fetchval(statement)
    finally:
        await connection.close()


async def pause_replay(pair: Pair) -> None:
    await standby_sql(pair, "SELECT pg_wal_replay_pause()")

    async def paused() -> bool:
        state = await standby_sql(pair, "SELECT pg_get_wal_replay_pause_state()")
        return bool(state == "paused")

    await eventually(paused, "the standby's replay paused")


async def resume_replay(pair: Pair) -> None:
    await standby_sql(pair, "SELECT pg_wal_replay_resume()")


async def replica_state(service: Service) -> str:
    reply = await service.http.get("/readyz")
    assert reply.status_code == 200, reply.text
    (replica,) = reply.json()["replicas"]
    return str(replica["state"])


async def in_rotation(service: Service) -> None:
    async def ready() -> bool:
        return await replica_state(service) == "ready"

    await eventually(ready, "the standby in the rotation")


@pytest.fixture(autouse=True)
async def standby_replaying(pair: Pair, service: Service) -> AsyncIterator[None]:
    """Each test starts and ends with the standby replaying and in the rotation."""
    await in_rotation(service)
    yield
    await resume_replay(pair)
    await in_rotation(service)


async def create(service: Service, name: str) -> tuple[str, str]:
    """POST an item: its id and the answer's Consistency-Token."""
    reply = await service.http.post("/api/v1/items", json={"name": name}, headers=service.headers)
    assert reply.status_code == 201, reply.text
    return reply.json()["id"], reply.headers["consistency-token"]


def routed() -> dict[str, int]:
    return dict(replicas.routed)


async def test_a_read_with_the_token_sees_the_write_while_replay_is_paused(
    pair: Pair, service: Service
) -> None:
    await pause_replay(pair)
    item_id, token = await create(service, "written while the standby is paused")
    before = routed()
    paths = (
        f"/api/v1/items/{item_id}",
        f"/api/v1/items/{item_id}?fields=id,name",
        "/api/v1/items?q=paused",
    )
    for path in paths:
        for method in ("GET", "HEAD"):
            reply = await service.http.request(
                method, path, headers={**service.headers, "Consistency-Token": token}
            )
            assert reply.status_code == 200, reply.text
            if method == "GET" and "/items/" in path:
                assert reply.json()["id"] == item_id
    # The standby had not replayed the write: each read went to the primary (by its token, or
    # by fallback once the paused standby had left the rotation on a slow machine).
    after = routed()
    assert after["replica"] == before["replica"]
    on_primary = ("primary_token", "primary_fallback")
    assert sum(after[route] - before[route] for route in on_primary) == 6
    # /readyz shows this worker's routing since it started, as /metrics counts it.
    shown = (await service.http.get("/readyz")).json()["replica_reads"]
    assert {route: shown[route] for route in after} == routed()
    assert shown["retried"] >= 0
    # A PATCH's answer carries a later token; sent with the first, the latest counts.
    patched = await service.http.patch(
        f"/api/v1/items/{item_id}", json={"description": "later"}, headers=service.headers
    )
    later = patched.headers["consistency-token"]
    reply = await service.http.get(
        f"/api/v1/items/{item_id}",
        headers=[
            *service.headers.items(),
            ("Consistency-Token", token),
            ("Consistency-Token", f"{token}, {later}"),
        ],
    )
    assert reply.json()["description"] == "later"


async def test_once_replayed_a_token_read_is_served_by_the_replica(
    pair: Pair, service: Service
) -> None:
    item_id, token = await create(service, "replayed at once")
    before = routed()
    reply = await service.http.get(
        f"/api/v1/items/{item_id}", headers={**service.headers, "Consistency-Token": token}
    )
    assert reply.status_code == 200
    # Replayed within REPLICA_WAIT_MS or not: either way the write is seen. Once the poller has
    # seen the standby past the token, the standby serves it.
    replica = service.replica_set.replicas[0]
    position = service.replica_set.merge([_decode(service, token)])
    assert position is not None

    async def replayed() -> bool:
        return replica.replayed >= position.lsn

    await eventually(replayed, "the standby past the token")
    before = routed()
    reply = await service.http.get(
        f"/api/v1/items/{item_id}", headers={**service.headers, "Consistency-Token": token}
    )
    assert reply.status_code == 200
    assert routed()["replica"] - before["replica"] == 1


async def test_a_count_is_read_where_its_page_is(pair: Pair, service: Service) -> None:
    """`Prefer: count=` reads the count through the same routing as the page: on the replica
    without a token, and on the primary with the token of a write the paused standby lacks,
    so that the count includes the write the page shows."""
    await create(service, "counted where read")
    before = routed()
    for preference in ("count=exact", "count=estimated"):
        reply = await service.http.get(
            "/api/v1/items?tags=never-a-tag", headers={**service.headers, "Prefer": preference}
        )
        assert reply.status_code == 200, reply.text
        assert reply.headers["content-range"].startswith("*/")
    assert routed()["replica"] - before["replica"] >= 4  # two pages, two counts at least
    assert routed()["primary_fallback"] == before["primary_fallback"]
    await pause_replay(pair)
    name = f"counted-{uuid4().hex}"
    _, token = await create(service, name)
    before = routed()
    reply = await service.http.get(
        f"/api/v1/items?q={name}",
        headers={**service.headers, "Prefer": "count=exact", "Consistency-Token": token},
    )
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-range"] == "0-0/1"
    assert routed()["replica"] == before["replica"]


def _decode(service: Service, token: str) -> replicas.Position:
    from api.consistency import TokenCodec

    return TokenCodec(TEST_SECRET_KEY).decode(token)


async def test_without_a_token_a_read_is_never_staler_than_the_bound(
    pair: Pair, service: Service
) -> None:
    await pause_replay(pair)
    written = time.monotonic()
    item_id, _ = await create(service, "not yet on the standby")
    answered = time.monotonic()
    stale_reads = 0
    while True:
        started = time.monotonic()
        reply = await service.http.get(f"/api/v1/items/{item_id}", headers=service.headers)
        if reply.status_code == 200:
            break
        assert reply.status_code == 404, reply.text
        # A 404 shows a state from before the write: it may come only within the bound.
        assert started - answered < MAX_LAG_MS / 1000, (
            f"a read {started - written:.3f} s after the write still missed it"
        )
        stale_reads += 1
        assert time.monotonic() - written < PATIENCE_S
    # The paused standby left the rotation (it is lagging), and reads went to the primary.
    assert await replica_state(service) == "lagging"
    before = routed()
    reply = await service.http.get(f"/api/v1/items/{item_id}", headers=service.headers)
    assert reply.status_code == 200
    assert routed()["primary_fallback"] - before["primary_fallback"] == 1
    # A read with a token too: with no replica in the rotation it waits for none.
    _, token = await create(service, "while lagging")
    before = routed()
    reply = await service.http.get(
        f"/api/v1/items/{item_id}", headers={**service.headers, "Consistency-Token": token}
    )
    assert reply.status_code == 200
    assert routed()["primary_fallback"] - before["primary_fallback"] == 1
    assert routed()["primary_token"] == before["primary_token"]
    # After resume it comes back (the autouse fixture waits for it) and serves the write.
    await resume_replay(pair)
    await in_rotation(service)
    before = routed()
    reply = await service.http.get(f"/api/v1/items/{item_id}", headers=service.headers)
    assert reply.status_code == 200
    assert routed()["replica"] - before["replica"] == 1
    metrics = (await service.http.get("/metrics")).text
    assert 'db_replica_reads_total{route="primary_fallback"}' in metrics
    # The wrapped routes keep their labels.
    assert 'route="/api/v1/items/{id}",status="200"' in metrics
    assert f'db_replica_up{{replica="127.0.0.1:{pair.standby.port}/items"}} 1.0' in metrics


async def test_a_stale_read_is_possible_within_the_bound(pair: Pair, service: Service) -> None:
    """With a bound long enough to outlast the test, a paused standby stays in the rotation: a
    read without the token shows the state before the write, one with it shows the write."""
    settings = msgspec.structs.replace(
        service.app.state.settings,
        replica_max_lag_ms=60_000,
    )
    application = create_app(settings)
    await application.start()
    try:
        transport = httpx.ASGITransport(app=application, client=CLIENT_ADDRESS)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:

            async def ready() -> bool:
                report = (await http.get("/readyz")).json()["replicas"]
                return bool(report[0]["state"] == "ready")

            await eventually(ready, "the standby in the second app's rotation")
            await pause_replay(pair)
            reply = await http.post(
                "/api/v1/items", json={"name": "stale"}, headers=service.headers
            )
            item_id, token = reply.json()["id"], reply.headers["consistency-token"]
            stale = await http.get(f"/api/v1/items/{item_id}", headers=service.headers)
            assert stale.status_code == 404
            before = routed()
            fresh = await http.get(
                f"/api/v1/items/{item_id}",
                headers={**service.headers, "Consistency-Token": token},
            )
            assert fresh.status_code == 200
            assert routed()["primary_token"] - before["primary_token"] == 1
            # At once, coalesced: the reads with the token are batched on the primary, those
            # without on the replica; no batch mixes the two.
            with_token = {**service.headers, "Consistency-Token": token}
            replies = await asyncio.gather(
                *(
                    http.get(
                        f"/api/v1/items/{item_id}",
                        headers=with_token if n % 2 else service.headers,
                    )
                    for n in range(20)
                )
            )
            assert [reply.status_code for reply in replies] == [404, 200] * 10
    finally:
        await application.stop()


async def test_an_idle_primary_keeps_an_up_to_date_replica_fresh(service: Service) -> None:
    """Lag by time from the primary's sampled positions, not from commit times: with no write
    for several bounds, the replica stays in the rotation with a lag of about one poll."""
    idle_since = time.monotonic()

    async def idle_long_enough() -> bool:
        return time.monotonic() - idle_since > 3 * MAX_LAG_MS / 1000

    await eventually(idle_long_enough, "three bounds without a write")
    reports: list[dict[str, Any]] = []

    async def fresh() -> bool:
        reply = await service.http.get("/readyz")
        reports[:] = reply.json()["replicas"]
        return bool(reports[0]["state"] == "ready")

    await eventually(fresh, "the standby in the rotation")
    assert reports[0]["lag_ms"] <= MAX_LAG_MS
    assert reports[0]["lag_bytes"] is not None


async def test_tokens_of_another_cluster_read_the_primary_and_forged_ones_are_refused(
    pair: Pair, service: Service
) -> None:
    from api.consistency import TokenCodec

    item_id, token = await create(service, "token checks")
    position = _decode(service, token)
    codec = TokenCodec(TEST_SECRET_KEY)
    for other in (
        position._replace(system_identifier=position.system_identifier + 1),
        position._replace(timeline=position.timeline + 1),
    ):
        before = routed()
        reply = await service.http.get(
            f"/api/v1/items/{item_id}",
            headers={**service.headers, "Consistency-Token": codec.encode(other)},
        )
        assert reply.status_code == 200
        assert routed()["primary_token"] - before["primary_token"] == 1
    forged = TokenCodec("another-secret-key-of-32-bytes-or-more-XYZ").encode(position)
    for bad in (forged, token[:-2] + "AA", "garbage", ",".join([token] * 17)):
        reply = await service.http.get(
            f"/api/v1/items/{item_id}", headers={**service.headers, "Consistency-Token": bad}
        )
        assert reply.status_code == 422, reply.text
        assert reply.json()["errors"][0]["field"] == "header.Consistency-Token"
    # Authentication comes first: a caller without credentials learns nothing of its token.
    reply = await service.http.get(
        f"/api/v1/items/{item_id}", headers={"Consistency-Token": "garbage"}
    )
    assert reply.status_code == 401


async def test_a_write_sent_to_a_replica_pool_fails(pair: Pair, service: Service) -> None:
    replica = service.replica_set.replicas[0]
    user_id = await service.app.state.pool.fetchval("SELECT id FROM users LIMIT 1")
    body = msgspec.convert({"name": "misrouted"}, _ItemWrite)
    with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
        await items.create(replica.pool, body, user_id, 100)
    # default_transaction_read_only refuses it even where the "replica" URL names a primary.
    pool = await create_pool(
        pair.primary_url, min_size=0, max_size=1, statement_timeout_ms=5000, read_only=True
    )
    try:
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await items.create(pool, body, user_id, 100)
    finally:
        await pool.close()


class _ItemWrite(msgspec.Struct):
    name: str
    description: str | None = None
    tags: list[str] = msgspec.field(default_factory=list)
    metadata: msgspec.Raw = msgspec.Raw(b"{}")


async def test_a_read_cancelled_by_a_recovery_conflict_is_retried(
    pair: Pair, service: Service
) -> None:
    """The standby replays a lock on items (a primary transaction holds it), so a tag search
    there takes item_tags and waits for items; then the primary locks item_tags too, whose
    replay cancels the search at once (max_standby_streaming_delay=0): SQLSTATE 40001. The
    search runs again on the primary, which answers once both locks are released."""
    await create(service, "conflict")
    primary = await asyncpg.connect(pair.primary_url)
    other = await asyncpg.connect(pair.primary_url)
    standby = await asyncpg.connect(pair.standby_url)
    holding = primary.transaction()
    try:
        await holding.start()
        await primary.execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
        await other.execute("SELECT pg_current_xact_id()")  # a commit: the lock's WAL is flushed

        async def replayed_lock(table: str, granted: bool) -> bool:
            count = await standby.fetchval(
                "SELECT count(*) FROM pg_locks WHERE relation = $1::regclass"
                " AND mode = 'AccessExclusiveLock' AND granted = $2",
                table,
                granted,
            )
            return bool(count)

        await eventually(lambda: replayed_lock("items", True), "the lock replayed")
        before, retried = routed(), replicas.retried[0]
        search = asyncio.ensure_future(
            service.http.get("/api/v1/items?tags=conflict", headers=service.headers)
        )

        async def waiting() -> bool:
            count = await standby.fetchval(
                "SELECT count(*) FROM pg_locks WHERE relation = 'items'::regclass AND NOT granted"
            )
            return bool(count)

        await eventually(waiting, "the search waiting on the standby")
        await primary.execute("LOCK TABLE item_tags IN ACCESS EXCLUSIVE MODE")
        await other.execute("SELECT pg_current_xact_id()")
        await eventually(lambda: replayed_lock("item_tags", True), "the second lock replayed")
        assert not search.done()  # it now waits for the primary's locks
    finally:
        await holding.rollback()
        await primary.close()
        await other.close()
        await standby.close()
    reply = await search
    assert reply.status_code == 200, reply.text
    assert replicas.retried[0] - retried == 1
    assert routed()["primary_fallback"] - before["primary_fallback"] == 1


async def test_a_replica_stopped_mid_traffic_costs_no_error(pair: Pair, service: Service) -> None:
    item_ids = [(await create(service, f"traffic {n}"))[0] for n in range(5)]
    statuses: list[int] = []
    stop = asyncio.Event()

    async def reader(number: int) -> None:
        while not stop.is_set():
            path = f"/api/v1/items/{item_ids[number % len(item_ids)]}"
            if number % 3 == 0:
                path = "/api/v1/items?q=traffic"
            reply = await service.http.get(path, headers=service.headers)
            statuses.append(reply.status_code)

    readers = [asyncio.ensure_future(reader(n)) for n in range(12)]
    try:
        await eventually(lambda: _at_least(statuses, 50), "reads before the stop")
        await asyncio.to_thread(pair.standby.stop)
        served = len(statuses)
        await eventually(lambda: _at_least(statuses, served + 100), "reads after the stop")

        async def unreachable() -> bool:
            return await replica_state(service) == "unreachable"

        await eventually(unreachable, "the stopped standby out of the rotation")
    finally:
        stop.set()
        await asyncio.gather(*readers)
    assert set(statuses) == {200}, sorted(set(statuses))
    await asyncio.to_thread(pair.standby.start, options=STANDBY_OPTIONS)
    await in_rotation(service)


async def _at_least(values: list[int], count: int) -> bool:
    return len(values) >= count
