"""Fault injection (issue 11): the service on a private PostgreSQL that the tests lock, freeze,
terminate, overload and kill -9. Every answer must come within the budget plus 1 s, every
failure must be a 503 with Retry-After (never a 500), and work must stop when its client leaves.

The service runs as `python -m api serve` (uvicorn, one worker) with a small budget so that the
module stays fast: REQUEST_TIMEOUT_MS=1500, DB_ACQUIRE_TIMEOUT_MS=1000, a pool of 4.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from api.auth import tokens
from tests.cluster import PG_BIN, Cluster
from tests.conftest import TEST_SECRET_KEY
from tests.servers import free_port, start_server

pytestmark = pytest.mark.skipif(
    not (PG_BIN / "initdb").exists(), reason=f"no PostgreSQL binaries in {PG_BIN}"
)

BUDGET_S = 1.5
# What "within budget" allows on a loaded CI machine: the issue's budget + 1 s.
LATEST_S = BUDGET_S + 1.0
SETTINGS = {
    "ENVIRONMENT": "test",
    "SECRET_KEY": TEST_SECRET_KEY,
    "REQUEST_TIMEOUT_MS": str(int(BUDGET_S * 1000)),
    "DB_ACQUIRE_TIMEOUT_MS": "1000",
    "DB_POOL_MIN_SIZE": "4",
    "DB_POOL_MAX_SIZE": "4",
    "AUTH_CACHE_SECONDS": "300",
    "DB_CONNECT_TIMEOUT_S": "20",
    "ACCESS_LOG": "true",
    "LOG_LEVEL": "warning",
    # One user's requests stand for many clients' here: the faults are the database's.
    "PRINCIPAL_MAX_CONCURRENCY": "1000",
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    root = Path(tempfile.mkdtemp(prefix="items-faults-"))
    pg = Cluster(root)
    pg.init()
    pg.start()
    try:
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Service:
    url: str
    database_url: str
    headers: dict[str, str]
    item_ids: list[str]
    log: Path
    process: subprocess.Popen[bytes]
    statuses: Counter[int] = field(default_factory=Counter)

    def client(self, timeout: float = 10.0) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url,
            headers=self.headers,
            timeout=timeout,
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=1000),
        )


def serve(cluster: Cluster, port: int, name: str, **settings: str) -> subprocess.Popen[bytes]:
    """One worker of `python -m api serve` with SETTINGS and `settings`; its output in
    the cluster's folder as NAME.log."""
    return start_server(
        {**os.environ, **SETTINGS, **settings},
        port,
        "--workers",
        "1",
        log=cluster.root / f"{name}.log",
        ready_path="/healthz",
    )


@pytest.fixture(scope="module")
def service(cluster: Cluster) -> Iterator[Service]:
    database_url = cluster.database_url("items")
    port = free_port()
    env = {**SETTINGS, "DATABASE_URL": database_url}
    process = serve(cluster, port, "serve", DATABASE_URL=database_url)
    try:
        made = subprocess.run(
            [sys.executable, "-m", "api", "users", "create", "faults@example.com"],
            input="fault-tests-password-0123\n",
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        found = re.search(r"\(([0-9a-f-]{36})\)", made)
        assert found is not None, made
        token = tokens.issue(
            TEST_SECRET_KEY, uuid.UUID(found[1]), ["items:read", "items:write"], 3600, 0
        )
        headers = {"Authorization": f"Bearer {token}"}
        ids = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as http:
            for batch in range(3):  # enough rows for a two-word fuzzy search to take a while
                body = [
                    {"name": f"seed item {batch * 1000 + n}", "tags": ["seed"]} for n in range(1000)
                ]
                reply = http.post("/api/v1/items/batch", json=body, timeout=30)
                assert reply.status_code == 200, reply.text
                ids += [entry["id"] for entry in reply.json()["items"]]
        log = cluster.root / "serve.log"
        yield Service(f"http://127.0.0.1:{port}", database_url, headers, ids, log, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
async def admin_db(service: Service) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    async with await psycopg.AsyncConnection.connect(
        service.database_url, autocommit=True
    ) as connection:
        yield connection


@dataclass
class Answer:
    status: int  # 0: no answer (a transport error)
    seconds: float
    retry_after: str | None = None
    body: bytes = b""


async def timed(http: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> Answer:
    start = time.perf_counter()
    try:
        reply = await http.request(method, path, **kwargs)
    except httpx.TransportError:
        return Answer(0, time.perf_counter() - start)
    return Answer(
        reply.status_code,
        time.perf_counter() - start,
        reply.headers.get("retry-after"),
        reply.content,
    )


def assert_honest(answers: list[Answer], allowed: set[int]) -> None:
    """Every answer came, within the budget + 1 s, with an allowed status; a 503 says when to
    retry; no 500."""
    statuses = Counter(answer.status for answer in answers)
    assert set(statuses) <= allowed, statuses
    slowest = max(answer.seconds for answer in answers)
    assert slowest <= LATEST_S, f"slowest answer {slowest:.2f} s; statuses {statuses}"
    for answer in answers:
        if answer.status == 503:
            assert answer.retry_after is not None, answer.body


async def active_statements(db: psycopg.AsyncConnection[Any], like: str) -> int:
    """Backends of the service still running a statement that matches `like`."""
    cursor = await db.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'items-api'"
        " AND state = 'active' AND query ILIKE %s",
        (like,),
    )
    row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def eventually_zero(db: psycopg.AsyncConnection[Any], like: str, within: float) -> int:
    deadline = time.monotonic() + within
    while (count := await active_statements(db, like)) and time.monotonic() < deadline:  # noqa: ASYNC110 (polling another process)
        await asyncio.sleep(0.05)
    return count


# ------------------------------------------------------------------ start-up
def test_serve_gives_up_after_db_connect_timeout_without_printing_the_password(
    tmp_path: Path,
) -> None:
    url = f"postgresql://postgres:hunter2-secret@127.0.0.1:{free_port()}/items"
    env = {**os.environ, **SETTINGS, "DATABASE_URL": url, "DB_CONNECT_TIMEOUT_S": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "api", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "hunter2-secret" not in output
    assert "waiting for PostgreSQL at postgresql://postgres:***@127.0.0.1" in output
    assert "DB_CONNECT_TIMEOUT_S" in output


def test_serve_waits_for_postgresql_to_come_up(cluster: Cluster, tmp_path: Path) -> None:
    cluster.stop()
    port = free_port()
    url = f"postgresql://postgres:hunter2-secret@127.0.0.1:{cluster.port}/items_waited"
    env = {**os.environ, **SETTINGS, "DATABASE_URL": url}
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "api", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 15
        while "waiting for PostgreSQL" not in log.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            time.sleep(0.1)
        assert "waiting for PostgreSQL" in log.read_text()
        cluster.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        else:
            pytest.fail(f"serve did not come up after PostgreSQL did:\n{log.read_text()}")
        assert "hunter2-secret" not in log.read_text()
    finally:
        process.terminate()
        process.wait(timeout=15)


# ------------------------------------------------------------------ slow or stuck database
async def test_locked_table_answers_within_budget_and_cancels_in_postgresql(
    service: Service, admin_db: psycopg.AsyncConnection[Any]
) -> None:
    locker = await psycopg.AsyncConnection.connect(service.database_url)
    await locker.execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
    try:
        async with service.client() as http:
            reads = [
                timed(http, "GET", f"/api/v1/items/{service.item_ids[n % 50]}") for n in range(24)
            ]
            others = [timed(http, "GET", "/api/v1/users/me") for _ in range(4)]
            writes = [
                timed(http, "PATCH", f"/api/v1/items/{service.item_ids[n]}", json={"name": "x"})
                for n in range(4)
            ]
            pending = asyncio.gather(*reads, *others, *writes)
            await asyncio.sleep(0.5)  # the pool is now full of statements waiting for the lock
            probes = await asyncio.gather(
                timed(http, "GET", "/healthz"), timed(http, "GET", "/readyz")
            )
            answers = await pending
        assert_honest(answers, {200, 503})
        assert Counter(a.status for a in answers)[503] >= 24, "items requests cannot succeed"
        assert [p.status for p in probes] == [200, 200], probes  # busy, not unreachable
        assert all(p.seconds < 1.0 for p in probes), probes
        assert b'"busy"' in probes[1].body
        # The statements were cancelled in PostgreSQL while the lock is still held: no backend
        # keeps waiting for a client that has its answer.
        assert await eventually_zero(admin_db, "%items%", within=1.5) == 0
    finally:
        await locker.close()
    async with service.client() as http:
        after = await timed(http, "GET", f"/api/v1/items/{service.item_ids[0]}")
    assert after.status == 200


async def abandon(service: Service, method: str, path: str, body: bytes, after: float) -> None:
    """Send a request and close the connection `after` seconds later, unanswered."""
    host, port = service.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Authorization: {service.headers['Authorization']}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()
    try:
        early = await asyncio.wait_for(reader.read(1), after)
        pytest.fail(f"answered before the client left: {early!r}")
    except TimeoutError:
        pass
    writer.close()


async def test_writes_whose_clients_left_are_never_applied(
    service: Service, admin_db: psycopg.AsyncConnection[Any]
) -> None:
    marker = f"abandoned-{uuid.uuid4().hex[:8]}"
    target = service.item_ids[10]
    locker = await psycopg.AsyncConnection.connect(service.database_url)
    await locker.execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
    try:
        started = time.monotonic()
        # 4 writes run (blocked on the lock) and 12 wait for a connection; all are abandoned
        # after 0.2 s, well inside the budget, and the lock goes before the budget would end.
        await asyncio.gather(
            *(
                abandon(
                    service,
                    "POST",
                    "/api/v1/items",
                    b'{"name": "%s-%d"}' % (marker.encode(), n),
                    0.2,
                )
                for n in range(12)
            ),
            *(
                abandon(
                    service,
                    "PATCH",
                    f"/api/v1/items/{target}",
                    b'{"name": "%s"}' % marker.encode(),
                    0.2,
                )
                for _ in range(4)
            ),
        )
        assert await eventually_zero(admin_db, "%items%", within=0.5) == 0
        assert time.monotonic() - started < BUDGET_S - 0.3, "too slow to prove anything"
    finally:
        await locker.close()  # ends the lock before the budget would have cancelled them
    await asyncio.sleep(0.5)
    cursor = await admin_db.execute(
        "SELECT count(*) FROM items WHERE name LIKE %s", (f"{marker}%",)
    )
    row = await cursor.fetchone()
    assert row is not None
    assert row[0] == 0, "a write whose client had left was applied"


async def test_frozen_server_answers_within_budget_and_recovers(
    service: Service, cluster: Cluster
) -> None:
    async with service.client() as http:
        assert (await timed(http, "GET", f"/api/v1/items/{service.item_ids[1]}")).status == 200
        cluster.freeze()
        try:
            requests = [
                timed(http, "GET", f"/api/v1/items/{service.item_ids[n % 50]}") for n in range(16)
            ]
            requests += [
                timed(http, "POST", "/api/v1/items", json={"name": "frozen"}) for _ in range(4)
            ]
            pending = asyncio.gather(*requests)
            await asyncio.sleep(0.3)
            health, ready = await asyncio.gather(
                timed(http, "GET", "/healthz"), timed(http, "GET", "/readyz")
            )
            answers = await pending
        finally:
            cluster.resume()
        assert_honest(answers, {503})
        assert health.status == 200
        assert health.seconds < 1.0
        assert ready.status == 503  # unreachable: it does not answer
        assert ready.seconds <= LATEST_S
        assert b"database-unreachable" in ready.body
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            again = await timed(http, "GET", f"/api/v1/items/{service.item_ids[2]}")
            if again.status == 200:
                break
            await asyncio.sleep(0.2)
        assert again.status == 200, "no recovery without a restart"
        assert (await timed(http, "GET", "/readyz")).status == 200


# ------------------------------------------------------------------ lost connections
async def test_terminated_backends_under_mixed_load_are_never_500(
    service: Service, admin_db: psycopg.AsyncConnection[Any]
) -> None:
    stop = asyncio.Event()
    answers: list[Answer] = []

    async def client(http: httpx.AsyncClient, number: int) -> None:
        n = number
        while not stop.is_set():
            n += 1
            choice = n % 4
            if choice == 0:
                answer = await timed(http, "POST", "/api/v1/items", json={"name": f"mixed {n}"})
            elif choice == 1:
                answer = await timed(http, "GET", "/api/v1/items?limit=5&tags=seed")
            else:
                answer = await timed(http, "GET", f"/api/v1/items/{service.item_ids[n % 200]}")
            answers.append(answer)

    async def terminator() -> int:
        killed = 0
        while not stop.is_set():
            cursor = await admin_db.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = 'items-api'"
            )
            row = await cursor.fetchone()
            killed += row[0] if row else 0
            await asyncio.sleep(0.05)
        return killed

    async with service.client() as http:
        tasks = [asyncio.ensure_future(client(http, n)) for n in range(12)]
        killing = asyncio.ensure_future(terminator())
        await asyncio.sleep(3)
        stop.set()
        await asyncio.gather(*tasks)
        killed = await killing
        assert killed > 10
        assert_honest(answers, {200, 201, 503})
        statuses = Counter(a.status for a in answers)
        assert statuses[200] + statuses[201] > statuses[503], statuses
        # Recovered without a restart.
        assert (await timed(http, "GET", f"/api/v1/items/{service.item_ids[3]}")).status == 200


async def test_read_whose_connection_was_lost_is_retried_once(
    service: Service, admin_db: psycopg.AsyncConnection[Any]
) -> None:
    locker = await psycopg.AsyncConnection.connect(service.database_url)
    await locker.execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
    async with service.client() as http:
        read = asyncio.ensure_future(timed(http, "GET", f"/api/v1/items/{service.item_ids[4]}"))
        write = asyncio.ensure_future(
            timed(http, "PATCH", f"/api/v1/items/{service.item_ids[5]}", json={"name": "lost"})
        )
        await asyncio.sleep(0.3)  # both wait for the lock
        await admin_db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'items-api' AND wait_event_type = 'Lock'"
        )
        await asyncio.sleep(0.2)  # the read runs again, on a fresh connection
        await locker.close()
        read_answer, write_answer = await asyncio.gather(read, write)
    assert read_answer.status == 200, read_answer  # retried within the budget
    assert write_answer.status == 503, write_answer  # not retried blindly
    assert write_answer.retry_after == "1"


async def test_too_many_connections_is_503(
    service: Service, cluster: Cluster, admin_db: psycopg.AsyncConnection[Any]
) -> None:
    # An instance that logs in as a role with a connection limit (superusers have none): once
    # its connections are terminated and the limit is 0, every reconnection is refused with
    # "too many connections for role" (53300, TooManyConnectionsError).
    role = f"limited_{uuid.uuid4().hex[:8]}"
    await admin_db.execute(f"CREATE ROLE {role} LOGIN")
    await admin_db.execute(f"GRANT pg_read_all_data, pg_write_all_data TO {role}")
    port = free_port()
    process = await asyncio.to_thread(
        serve,
        cluster,
        port,
        "limited",
        DATABASE_URL=service.database_url.replace("postgres@", f"{role}@"),
        ACCESS_LOG="false",
    )
    try:
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=url, headers=service.headers, timeout=30) as http:
            assert (await timed(http, "GET", f"/api/v1/items/{service.item_ids[7]}")).status == 200
            await admin_db.execute(f"ALTER ROLE {role} CONNECTION LIMIT 0")
            await admin_db.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (role,),
            )
            await asyncio.sleep(0.2)
            answers = await asyncio.gather(
                *(timed(http, "GET", f"/api/v1/items/{service.item_ids[n]}") for n in range(8)),
                *(timed(http, "POST", "/api/v1/items", json={"name": "refused"}) for _ in range(4)),
            )
            assert_honest(answers, {503})
            ready = await timed(http, "GET", "/readyz")
            assert ready.status == 503  # this instance cannot reach PostgreSQL
            await admin_db.execute(f"ALTER ROLE {role} CONNECTION LIMIT -1")
            again = await timed(http, "GET", f"/api/v1/items/{service.item_ids[8]}")
            assert again.status == 200  # recovered without a restart
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 15)


# ------------------------------------------------------------------ overload
async def test_overload_leaves_no_backlog(service: Service, cluster: Cluster) -> None:
    # Its own instance with one pool connection and the default budget, so that 200 clients
    # on a two-word fuzzy search queue far more work than it can do in a second.
    port = free_port()
    process = await asyncio.to_thread(
        serve,
        cluster,
        port,
        "overload",
        DATABASE_URL=service.database_url,
        DB_POOL_MIN_SIZE="1",
        DB_POOL_MAX_SIZE="1",
        REQUEST_TIMEOUT_MS="5000",
        ACCESS_LOG="false",
    )
    url = f"http://127.0.0.1:{port}"
    stop = asyncio.Event()
    answers: list[Answer] = []

    async def client(http: httpx.AsyncClient) -> None:
        while not stop.is_set():
            answers.append(await timed(http, "GET", "/api/v1/items?limit=200&q=item%20seed"))

    try:
        async with httpx.AsyncClient(
            base_url=url,
            headers=service.headers,
            timeout=30,
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=1000),
        ) as http:
            tasks = [asyncio.ensure_future(client(http)) for _ in range(200)]
            await asyncio.sleep(3)
            stop.set()
            for task in tasks:
                task.cancel()  # the clients leave at once, mid-request
            await asyncio.gather(*tasks, return_exceptions=True)
        async with httpx.AsyncClient(base_url=url, headers=service.headers, timeout=30) as http:
            after = await timed(http, "GET", "/api/v1/items?limit=1")
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 15)
    assert after.status == 200
    assert after.seconds < 1.0, f"the request after the load took {after.seconds:.2f} s"
    # Statuses only: with 200 clients in this one process, httpx itself is the slow part.
    assert answers, "the load produced no answer"
    assert {a.status for a in answers} <= {200, 503}


# ------------------------------------------------------------------ crash
async def test_kill_9_under_write_load_loses_no_acknowledged_write(
    service: Service, cluster: Cluster, admin_db: psycopg.AsyncConnection[Any]
) -> None:
    await admin_db.close()
    acknowledged: list[str] = []
    answers: list[Answer] = []
    stop = asyncio.Event()

    async def writer(http: httpx.AsyncClient, number: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            name = f"crash-{number}-{n}"
            answer = await timed(http, "POST", "/api/v1/items", json={"name": name})
            answers.append(answer)
            if answer.status == 201:
                acknowledged.append(name)

    async with service.client() as http:
        tasks = [asyncio.ensure_future(writer(http, n)) for n in range(8)]
        try:
            await asyncio.sleep(1)
            before_crash = len(acknowledged)
            cluster.kill()
            await asyncio.sleep(1)
            await asyncio.to_thread(cluster.start)
            await asyncio.sleep(2)
        finally:
            stop.set()
            await asyncio.gather(*tasks)
    assert before_crash > 0
    assert_honest(answers, {201, 503})
    assert Counter(a.status for a in answers)[503] > 0, "the crash went unnoticed"
    assert answers[-1].status == 201 or len(acknowledged) > before_crash, "no recovery"
    with psycopg.connect(service.database_url) as db:
        stored = {row[0] for row in db.execute("SELECT name FROM items WHERE name LIKE 'crash-%'")}
    lost = [name for name in acknowledged if name not in stored]
    assert not lost, f"{len(lost)} acknowledged writes lost"
