"""`python -m benchmarks run --replicas N`'s pieces against real processes, in seconds: the run's
private primary and standby (benchmarks/replicas.py) start, replicate and leave nothing, and the
mixed load's Consistency-Token reaches the service (a paused standby sends its reads to the
primary by token only when the load carries its writes' tokens)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from benchmarks import clients, common, database, measure, replicas, servers, tools


def _refused(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


async def _sql(url: str, statement: str) -> object:
    connection = await asyncpg.connect(url)
    try:
        return await connection.fetchval(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="module")
def cluster() -> Iterator[replicas.Cluster]:
    with replicas.Cluster(1) as made:
        made.start(max_connections=60)
        yield made
    assert not made.root.exists()
    assert all(_refused(port) for port in made.ports)


def test_the_private_cluster_streams_to_its_standby(cluster: replicas.Cluster) -> None:
    primary = f"{cluster.pg_url}/postgres"
    (standby,) = cluster.replica_urls("postgres")
    assert cluster.pg_url.endswith(f":{cluster.ports[0]}")
    assert asyncio.run(_sql(primary, "SELECT pg_is_in_recovery()")) is False
    assert asyncio.run(_sql(standby, "SELECT pg_is_in_recovery()")) is True
    assert asyncio.run(_sql(primary, "SELECT current_setting('max_connections')")) == "60"
    asyncio.run(_sql(primary, "CREATE DATABASE replicated"))
    asyncio.run(_sql(f"{cluster.pg_url}/replicated", "CREATE TABLE shown AS SELECT 7 AS seven"))
    assert cluster.wait_caught_up() >= 0
    (replicated,) = cluster.replica_urls("replicated")
    assert asyncio.run(_sql(replicated, "SELECT seven FROM shown")) == 7


def test_the_mixed_load_carries_its_tokens_only_when_told(
    cluster: replicas.Cluster, tmp_path: Path
) -> None:
    wrk = tools.find_wrk()
    name = "bench_tokens"
    data = tmp_path / "data"
    owner, _ = database.prepare_database(cluster.pg_url, name, 200, 42, data, batch_bodies=2)
    cluster.wait_caught_up()
    specs = servers.specs(
        dsn=f"{cluster.pg_url}/{name}",
        secret_key=common.SECRET_KEY,
        owner_id=owner,
        api_key="",
        workers=1,
        pool_size=4,
        access_log=False,
        ports=tuple(servers.free_ports(4)),
        replica_urls=cluster.replica_urls(name),
    )
    spec = specs[replicas.REPLICA_SERVER]
    # The paused standby stays in the rotation (lag bound far away), and a token read that it
    # cannot serve goes to the primary at once.
    spec.env.update(REPLICA_MAX_LAG_MS="60000", REPLICA_WAIT_MS="0")
    running = servers.start(spec, tmp_path / "logs")
    try:
        key = clients.api_key(running.url)
        auth = (spec.auth[0], key) if spec.auth else None
        (standby,) = cluster.replica_urls(name)
        asyncio.run(_sql(standby, "SELECT pg_wal_replay_pause()"))

        def routed(consistency: bool) -> dict[str, float | int | None]:
            before = replicas.scrape(running.url)
            outcome = measure.run_wrk(
                wrk, running.url, "mixed", 1, 2, 1, data, auth, consistency=consistency
            )
            assert outcome["ok_requests"] > 0, outcome
            return replicas.routing(before, replicas.scrape(running.url))

        carried = routed(consistency=True)
        plain = routed(consistency=False)
    finally:
        servers.stop(running)
        asyncio.run(_sql(standby, "SELECT pg_wal_replay_resume()"))
    # Once the load has written, its reads carry a token the paused standby has not replayed.
    assert int(carried["primary_token"] or 0) > 0, carried
    # Without tokens no read waits for one; the rest go to the standby (bar a poll slower than
    # its 250 ms bound on a busy machine, which takes it out of the rotation for a moment).
    assert plain["primary_token"] == 0, plain
    assert int(plain["replica"] or 0) > 0, plain
