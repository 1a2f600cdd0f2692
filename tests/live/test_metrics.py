"""GET /metrics: the Prometheus families with their labels, their values after known requests,
METRICS_ENABLED=false, and one scrape covering every worker of `python -m api serve`."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api import metrics, tally
from api.settings import Settings
from tests.conftest import Account, own_app
from tests.servers import free_port, service_env, start_server, stop_server

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition: (name, sorted labels) -> value."""
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert response.headers["cache-control"] == "no-store"
    return samples(response.text)


async def test_requests_are_counted_by_route_template_and_status(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = await client.post("/api/v1/items", json={"name": "counted"}, headers=alice.headers)
    item = created.json()["id"]
    before = await scrape(client)
    for _ in range(3):
        assert (await client.get(f"/api/v1/items/{item}", headers=alice.headers)).status_code == 200
    missing = "/api/v1/items/00000000-0000-4000-8000-000000000000"
    assert (await client.get(missing, headers=alice.headers)).status_code == 404
    assert (await client.get("/no/such/path/7f3a")).status_code == 404
    after = await scrape(client)

    route = "/api/v1/items/{id}"
    counted = "http_requests_total"

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta(counted, method="GET", route=route, status="200") == 3
    assert delta(counted, method="GET", route=route, status="404") == 1
    # An unknown path is one label value, never the path itself (bounded cardinality).
    assert delta(counted, method="GET", route="unmatched", status="404") == 1
    assert not [key for key in after if "/no/such/path/7f3a" in str(key)]
    # Nor can a client make up methods: any outside RFC 9110's is one label value.
    for made_up in ("BREW", "X-7F3A"):
        await client.request(made_up, "/no/such/path/7f3a")
    assert not [key for key in await scrape(client) if "BREW" in str(key) or "X-7F3A" in str(key)]
    histogram = "http_request_duration_seconds"
    assert delta(f"{histogram}_count", method="GET", route=route) == 4
    assert delta(f"{histogram}_bucket", method="GET", route=route, le="+Inf") == 4
    assert delta(f"{histogram}_sum", method="GET", route=route) > 0
    # The statement that ran, by its sql/ file name.
    statement = "db_statement_duration_seconds"
    assert delta(f"{statement}_count", statement="items/get_by_ids") == 4
    assert delta(f"{statement}_sum", statement="items/get_by_ids") > 0
    # One after another, each read was a batch of one (COALESCE_READS).
    assert delta("db_batch_size_count", statement="items/get_by_ids") == 4
    assert delta("db_batch_size_sum", statement="items/get_by_ids") == 4
    assert delta("db_batch_size_bucket", statement="items/get_by_ids", le="1.0") == 4
    # The scrape itself is in flight while it is answered.
    assert value(after, "http_requests_in_flight") >= 1
    for state in ("in_use", "idle", "waiting"):
        assert ("db_pool_connections", (("state", state),)) in after
    assert (
        value(after, "db_pool_connections", state="in_use")
        + value(after, "db_pool_connections", state="idle")
        >= 1
    )


async def test_login_failures_shed_and_timed_out_requests_are_counted(
    client: httpx.AsyncClient, alice: Account
) -> None:
    before = await scrape(client)
    refused = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": alice.email, "password": "wrong password!"},
    )
    assert refused.status_code == 400
    tally.shed()
    tally.shed()
    tally.timed_out()
    after = await scrape(client)
    for name, expected in (
        ("login_failures_total", 1),
        ("http_requests_shed_total", 2),
        ("http_requests_timed_out_total", 1),
    ):
        assert value(after, name) - value(before, name) == expected, name


async def test_metrics_enabled_false_turns_the_endpoint_and_the_counting_off(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with own_app(settings, metrics_enabled=False) as (_, http):
        # A tally of this test's own, which the session app's publisher leaves alone meanwhile.
        fresh = tally.Tally()
        monkeypatch.setattr(tally, "tally", fresh)
        monkeypatch.setattr(metrics, "tally", fresh)
        monkeypatch.setattr(metrics.Publisher, "publish", lambda self: None)
        assert (await http.get("/healthz")).status_code == 200
        response = await http.get("/metrics")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert fresh.requests == {}


@pytest.fixture
def two_workers(database_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`python -m api serve --workers 2`, with the multiprocess folder given so it can be seen."""
    port = free_port()
    folder = tmp_path / "metrics"
    folder.mkdir()
    env = service_env(database_url, LOG_LEVEL="warning", PROMETHEUS_MULTIPROC_DIR=str(folder))
    process = start_server(env, port, "--no-migrate", "--workers=2")
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while len(list(folder.glob("*.db"))) < 2:
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail("the server did not start two workers")
            time.sleep(0.2)
        # Finding: the supervisor, which imports the protocol, wrote a live gauge of its own,
        # never dropped (it never dies while the workers run), so a killed worker's test killed it.
        writers = {path.stem.rsplit("_", 1)[-1] for path in folder.glob("*.db")}
        assert str(process.pid) not in writers
        yield url, folder
    finally:
        stop_server(process)


def _pids(folder: Path, kind: str) -> set[str]:
    return {path.stem.rsplit("_", 1)[-1] for path in folder.glob(f"{kind}_*.db")}


def test_one_scrape_covers_every_worker(two_workers: tuple[str, Path]) -> None:
    url, folder = two_workers
    sent = 0
    deadline = time.monotonic() + 20
    # New connections until both workers have answered some (the kernel spreads them).
    while len(_pids(folder, "counter")) < 2 or sent < 40:
        with httpx.Client() as fresh:
            assert fresh.get(f"{url}/api/v1/items").status_code == 401
        sent += 1
        assert time.monotonic() < deadline, "one worker got every connection"
    # A statement through the pool (the login's reservation), for the statement timings.
    login = {"grant_type": "password", "username": "nobody@example.com", "password": "wrong-one"}
    assert httpx.post(f"{url}/api/v1/auth/token", data=login).status_code == 400
    time.sleep(metrics.PUBLISH_SECONDS * 2)  # every worker published its tallies
    with httpx.Client() as fresh:
        text = fresh.get(f"{url}/metrics").text
    found = samples(text)
    labels: dict[str, Any] = {"method": "GET", "route": "/api/v1/items", "status": "401"}
    assert value(found, "http_requests_total", **labels) == sent
    assert value(found, "http_request_duration_seconds_count", method="GET", route="/api/v1/items")
    assert value(found, "db_pool_connections", state="idle") >= 2  # both pools, summed
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {
        "http_requests",
        "http_request_duration_seconds",
        "http_requests_in_flight",
        "http_requests_shed",
        "http_requests_timed_out",
        "db_pool_connections",
        "db_statement_duration_seconds",
        "login_failures",
    } <= names


def test_a_killed_workers_live_gauges_leave_the_sums(two_workers: tuple[str, Path]) -> None:
    """Finding: a worker killed with SIGKILL kept its in-flight and pool gauges in every scrape
    (uvicorn starts another worker; the dead one's files stayed)."""
    url, folder = two_workers
    deadline = time.monotonic() + 20
    # Each worker writes its gauges once started, every PUBLISH_SECONDS: on a loaded machine the
    # second may not have yet.
    while len(before := _pids(folder, "gauge_livesum")) < 2:
        assert time.monotonic() < deadline, before
        time.sleep(0.2)
    victim = int(sorted(before)[0])
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while True:  # uvicorn starts a new worker; scrape until the dead one's files are gone
        with contextlib.suppress(httpx.TransportError), httpx.Client() as fresh:
            assert fresh.get(f"{url}/metrics").status_code == 200
        if str(victim) not in _pids(folder, "gauge_livesum"):
            break
        assert time.monotonic() < deadline, _pids(folder, "gauge_livesum")
        time.sleep(0.3)
    assert _pids(folder, "counter") >= {str(victim)}  # its counts are kept


def test_serve_removes_its_metrics_folder_and_those_of_killed_runs(database_url: str) -> None:
    temp = Path(tempfile.gettempdir())
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    orphan = temp / f"items-api-metrics-{gone.stdout.strip()}-test"  # its process has ended
    orphan.mkdir(exist_ok=True)
    port = free_port()
    env = service_env(database_url, LOG_LEVEL="warning")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = start_server(env, port, "--no-migrate")
    try:
        own = list(temp.glob(f"items-api-metrics-{process.pid}-*"))
        assert len(own) == 1
        assert list(own[0].glob("*.db"))  # the worker writes its values there
        assert not orphan.exists()
    finally:
        stop_server(process)
    assert not own[0].exists()


async def test_a_statement_timeout_counts_as_timed_out(
    settings: Settings, database_url: str, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """statement_timeout cancels a statement stuck behind a lock: a 503, counted as timed out."""
    async with own_app(settings, db_statement_timeout_ms=200) as (_, http):
        fresh = tally.Tally()
        monkeypatch.setattr(tally, "tally", fresh)
        monkeypatch.setattr(metrics, "tally", fresh)
        monkeypatch.setattr(metrics.Publisher, "publish", lambda self: None)
        # Authenticated once first, so that only the item read meets the lock.
        assert (await http.get("/api/v1/users/me", headers=alice.headers)).status_code == 200
        with psycopg.connect(database_url) as locker:
            locker.execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
            response = await http.get("/api/v1/items", headers=alice.headers)
            locker.rollback()
        assert response.status_code == 503
        assert fresh.timed_out == 1
