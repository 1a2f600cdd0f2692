"""The benchmarks' own load tools against real processes, for a second or two each: the open-loop
generator (benchmarks/openloop.py) against the service, and the private PgBouncer of
`python -m benchmarks scaling` (benchmarks/pgbouncer.py)."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from benchmarks import openloop, pgbouncer
from tests.servers import live_server


def test_the_open_loop_generator_counts_every_answer_by_status(database_url: str) -> None:
    with live_server(database_url) as port:
        url = f"http://127.0.0.1:{port}"
        # Half the requests answered 200, half 401 (no credentials), by the clock.
        paths = ["/healthz", f"/api/v1/items/{uuid.uuid4()}"]
        paced = openloop.drive(url, paths, rate=200, seconds=1, budget_ms=5000)
        # One connection for requests due far faster than one connection answers (every 50
        # microseconds): they wait for it, and their wait counts in their latency.
        queued = openloop.drive(
            url, paths, rate=20_000, seconds=0.02, budget_ms=5000, max_connections=1
        )
    assert paced["due"] == 200
    assert paced["statuses"] == {"200": 100, "401": 100}
    assert paced["unanswered"] == 0
    assert paced["sent_rps"] >= 190
    assert paced["goodput"] == 100.0
    assert 0 < paced["p50_ms"] <= paced["p99_ms"] < 5000
    assert queued["statuses"] == {"200": 200, "401": 200}  # 400 due
    assert queued["connections"] == 1
    assert queued["waited_for_connection"] > 0


def test_the_benchmarks_pgbouncer_serves_transactions_and_leaves_nothing(
    database_url: str,
) -> None:
    parts = urlsplit(database_url)
    pg_url = urlunsplit(parts._replace(path=""))
    name = parts.path.lstrip("/")
    with pgbouncer.running(pg_url, name, server_connections=2, max_clients=10) as bouncer:
        port = urlsplit(bouncer.url).port
        assert port is not None

        async def through_it() -> int:
            connection = await asyncpg.connect(bouncer.url, statement_cache_size=0)
            try:
                return int(await connection.fetchval("SELECT 1"))
            finally:
                await connection.close()

        assert asyncio.run(through_it()) == 1
    with pytest.raises(ProcessLookupError):
        os.killpg(bouncer.group, 0)
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", port), timeout=1),
    ):
        pass
