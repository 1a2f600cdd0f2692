"""`python -m benchmarks scaling`: the items API's throughput as its worker processes grow
(1, 2, 4, ... up to the machine's CPUs), each connected directly to PostgreSQL and through a
private PgBouncer in transaction mode.

Per worker count both servers run side by side (the idle one holds its connections and nothing
else) and take turns, `--rounds` times per endpoint, so that a slow spell of the machine falls
on both alike; each is reported by its median round. wrk opens `--connections-per-worker` times
the workers, so that every worker has as much to do as the single worker of `run`.

Connections to PostgreSQL: directly, each worker keeps a pool of `--pool-size`, so the service
holds workers x pool; where that does not fit in what the server accepts (max_connections), the
pool of each worker is made smaller and the table says so. Through PgBouncer the workers' pools
connect to PgBouncer, which keeps `--bouncer-pool-size` connections to PostgreSQL whatever the
workers. Every run makes its own database (`scaling_<random>`), dropped at the end, and listens
on free ports, so it never collides with another run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import statistics
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import clients, common, database, measure, pgbouncer, runner, servers, tools
from benchmarks.common import log

HERE = Path(__file__).resolve().parent
# Every endpoint of `run` but bulk upserts, whose walk over the batch bodies is `run`'s own.
ENDPOINTS = [e for e in runner.SCENARIOS["all"] if e != "bulk_upsert_1000"]
MODES = ("direct", "pgbouncer")


def add_parser(commands: Any) -> None:
    cpus = os.cpu_count() or 1
    parser = commands.add_parser(
        "scaling", help="throughput as workers grow, with and without PgBouncer"
    )
    parser.add_argument(
        "--endpoints",
        default="get_by_id",
        help=f"comma-separated, of {','.join(ENDPOINTS)} (default get_by_id)",
    )
    parser.add_argument("--duration", type=int, default=3, help="seconds per round (3)")
    parser.add_argument("--warmup", type=int, default=2, help="unrecorded seconds before (2)")
    parser.add_argument("--rounds", type=int, default=3, help="turns per server and endpoint (3)")
    parser.add_argument(
        "--max-workers", type=int, default=cpus, help=f"the last step (this machine's {cpus})"
    )
    parser.add_argument(
        "--connections-per-worker", type=int, default=32, help="wrk -c per worker (32)"
    )
    parser.add_argument(
        "--threads", type=int, default=max(2, cpus // 4), help="wrk -t (a quarter of the CPUs)"
    )
    parser.add_argument("--pool-size", type=int, default=10, help="pool of each worker (10)")
    parser.add_argument(
        "--bouncer-pool-size",
        type=int,
        help="PgBouncer's connections to PostgreSQL (default: --pool-size)",
    )
    parser.add_argument("--no-pgbouncer", action="store_true", help="direct connections only")
    parser.add_argument("--items", type=int, default=100_000, help="items to seed (100000)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432"),
        help="PostgreSQL server to use, without a database name",
    )
    parser.add_argument("--output", type=Path, help="results directory (benchmarks/results)")


def worker_steps(most: int) -> list[int]:
    """1, 2, 4, ... below `most`, then `most` itself."""
    steps = []
    workers = 1
    while workers < most:
        steps.append(workers)
        workers *= 2
    return [*steps, max(most, 1)]


def direct_pool(wanted: int, workers: int, room: int) -> int:
    """Each worker's pool when `workers` connect directly to a server with `room` connections
    left: `wanted`, or less so that all of them fit (0: they cannot)."""
    return min(wanted, room // workers)


@dataclass(frozen=True)
class Step:
    """One worker count: how each server connects, and why one was left out."""

    workers: int
    pool: dict[str, int]  # each mode's pool per worker
    backends: dict[str, int]  # each mode's connections to PostgreSQL
    skipped: dict[str, str]  # mode -> why it was not measured


def plan(workers: int, room: int, pool_size: int, bouncer_connections: int) -> Step:
    """How each mode connects at `workers`, with `room` connections left in PostgreSQL: PgBouncer
    (unless `bouncer_connections` is 0) takes its own, direct connections what is left."""
    pool: dict[str, int] = {}
    backends: dict[str, int] = {}
    skipped: dict[str, str] = {}
    left = room - bouncer_connections - database.SPARE_CONNECTIONS
    direct = direct_pool(pool_size, workers, left)
    if direct < 1:
        skipped["direct"] = f"{workers} workers need a connection each; PostgreSQL has {left}"
    else:
        pool["direct"], backends["direct"] = direct, direct * workers
    if bouncer_connections:
        pool["pgbouncer"], backends["pgbouncer"] = pool_size, bouncer_connections
    return Step(workers, pool, backends, skipped)


def run(args: argparse.Namespace) -> int:
    endpoints = [e.strip() for e in args.endpoints.split(",") if e.strip()]
    if not endpoints or set(endpoints) - set(ENDPOINTS):
        print(f"--endpoints: choose from {','.join(ENDPOINTS)}", file=sys.stderr)
        return 2
    try:
        wrk = tools.find_wrk()
        if not args.no_pgbouncer:
            tools.find_pgbouncer()
    except tools.MissingTool as missing:
        print(f"error: {missing}", file=sys.stderr)
        return 3
    bouncer_connections = 0 if args.no_pgbouncer else args.bouncer_pool_size or args.pool_size
    run_id = common.run_id()
    db_name = f"scaling_{run_id}"
    dsn = f"{args.pg_url}/{db_name}"
    work = HERE / ".work" / f"scaling-{run_id}"
    data = work / "data"
    started = datetime.now(UTC)
    results: list[dict[str, Any]] = []
    steps: list[Step] = []
    try:
        owner, _ = database.prepare_database(args.pg_url, db_name, args.items, args.seed, data)
        asyncio.run(database.set_session_defaults(args.pg_url, db_name))
        first_id = (data / "ids.txt").read_text().split()[0]
        environment = common.environment(asyncio.run(database.postgres_version(dsn)))
        bootstrap = servers.start(_spec(args, dsn, owner, "", 1, args.pool_size), work / "logs")
        try:
            api_key = clients.api_key(bootstrap.url)
        finally:
            servers.stop(bootstrap)
        for workers in worker_steps(args.max_workers):
            room = asyncio.run(database.connection_room(dsn))
            step = plan(workers, room, args.pool_size, bouncer_connections)
            steps.append(step)
            for mode, why in step.skipped.items():
                log(f"{workers} worker(s) {mode}: skipped, {why}")
            with _servers(args, dsn, owner, api_key, step, work / "logs") as running:
                for measured in running.values():
                    clients.check(measured.server.url, measured.server.spec.auth, first_id)
                for endpoint in endpoints:
                    results += _measure(args, wrk, running, step, endpoint, data, dsn)
    except BaseException:
        log(f"failed; the servers' logs are in {work / 'logs'}")
        raise
    else:
        shutil.rmtree(work, ignore_errors=True)
    finally:
        asyncio.run(database.drop_database(args.pg_url, db_name))
    document = {
        "started_at": started.isoformat(timespec="seconds"),
        "command": "python -m benchmarks " + " ".join(sys.argv[1:]),
        "environment": environment,
        "settings": {
            "endpoints": endpoints,
            "duration": args.duration,
            "warmup": args.warmup,
            "rounds": args.rounds,
            "max_workers": args.max_workers,
            "connections_per_worker": args.connections_per_worker,
            "threads": args.threads,
            "pool_size": args.pool_size,
            "bouncer_pool_size": bouncer_connections,
            "items": args.items,
        },
        "steps": [step.__dict__ for step in steps],
        "results": results,
    }
    output = args.output or HERE / "results"
    output.mkdir(parents=True, exist_ok=True)
    stem = output / f"{started:%Y-%m-%d}-{socket.gethostname()}-scaling"
    stem.with_suffix(".json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    stem.with_suffix(".md").write_text(markdown(document))
    log(f"results: {stem}.json, {stem}.md")
    print(markdown(document))
    return 0


def _spec(
    args: argparse.Namespace, dsn: str, owner: str, api_key: str, workers: int, pool: int
) -> servers.ServerSpec:
    port = servers.free_ports(1)[0]
    return servers.specs(
        dsn=dsn,
        secret_key=common.SECRET_KEY,
        owner_id=owner,
        api_key=api_key,
        workers=workers,
        pool_size=pool,
        access_log=True,
        ports=(port, port, port),
    )["items-api"]


@dataclass
class Measured:
    """A server under test, and the PgBouncer in front of it, if any (its process group)."""

    server: servers.Running
    bouncer: int | None = None

    def cpu_seconds(self) -> dict[str, float]:
        """The service's, PgBouncer's and the whole machine's (wrk and PostgreSQL included)."""
        groups = {"service": self.server.process.pid, "pgbouncer": self.bouncer}
        used = {
            name: servers.cpu_seconds(group) or 0.0
            for name, group in groups.items()
            if group is not None
        }
        return {**used, "machine": servers.machine_busy_seconds() or 0.0}


@contextlib.contextmanager
def _servers(
    args: argparse.Namespace, dsn: str, owner: str, api_key: str, step: Step, logs: Path
) -> Iterator[dict[str, Measured]]:
    """The items API of each mode measured at this step, PgBouncer with it, while the block
    runs."""
    running: dict[str, Measured] = {}
    with contextlib.ExitStack() as stack:
        for mode, pool in step.pool.items():
            spec = _spec(args, dsn, owner, api_key, step.workers, pool)
            spec.name = f"items-api-{step.workers}w-{mode}"
            bouncer = None
            if mode == "pgbouncer":
                bouncer = stack.enter_context(
                    pgbouncer.running(
                        args.pg_url,
                        dsn.rsplit("/", 1)[1],
                        server_connections=step.backends[mode],
                        max_clients=step.workers * pool + pgbouncer.SPARE_CLIENTS,
                    )
                )
                spec.env.update(DATABASE_URL=bouncer.url, **pgbouncer.SERVICE_ENV)
            log(f"starting {spec.name} (pool {pool} per worker)")
            server = servers.start(spec, logs)
            stack.callback(servers.stop, server)
            running[mode] = Measured(server, bouncer.group if bouncer else None)
        yield running


def _measure(
    args: argparse.Namespace,
    wrk: str,
    running: dict[str, Measured],
    step: Step,
    endpoint: str,
    data: Path,
    dsn: str,
) -> list[dict[str, Any]]:
    """Each mode's rounds on one endpoint, taking turns; each mode's median round, with the
    CPU (in cores) that the service's processes, PgBouncer and the whole machine used in it."""
    connections = args.connections_per_worker * step.workers
    rounds: dict[str, list[dict[str, Any]]] = {}

    def one_run(measured: Measured, seconds: int) -> dict[str, Any]:
        server = measured.server
        before = measured.cpu_seconds()
        outcome = measure.run_wrk(
            wrk, server.url, endpoint, seconds, connections, args.threads, data, server.spec.auth
        )
        used = measured.cpu_seconds()
        outcome["cpu"] = {
            name: round((used[name] - before[name]) / outcome["seconds"], 2) for name in used
        }
        asyncio.run(database.quiesce(dsn))
        servers.settle(server)
        if endpoint in runner.WRITE:
            asyncio.run(database.vacuum(dsn))
        return outcome

    for number in range(args.rounds):
        for mode, measured in running.items():
            if number == 0 and args.warmup:
                one_run(measured, args.warmup)
            outcome = one_run(measured, args.duration)
            rounds.setdefault(mode, []).append(outcome)
            log(
                f"{endpoint} {step.workers} worker(s) {mode:9} {outcome['rps']:>9,.1f} req/s  "
                f"p99 {outcome['p99_ms']:8.2f} ms  errors {outcome['errors']}  CPU "
                + ", ".join(f"{name} {cores:.2f}" for name, cores in outcome["cpu"].items())
            )
    results = []
    for mode, runs in rounds.items():
        result = measure.median_round(runs)
        result["cpu"] = {
            name: statistics.median(run["cpu"][name] for run in runs) for name in runs[0]["cpu"]
        }
        result.update(
            endpoint=endpoint,
            mode=mode,
            workers=step.workers,
            pool_per_worker=step.pool[mode],
            backends=step.backends[mode],
            connections=connections,
        )
        results.append(result)
    return results


def markdown(document: dict[str, Any]) -> str:
    settings, env = document["settings"], document["environment"]
    lines = [
        f"# Scaling, {document['started_at']}",
        "",
        f"`{document['command']}`",
        "",
        f"Commit {env.get('commit') or '?'}. {env['cpu']} ({env['cpus']} CPUs), "
        f"{env['postgres']}, Python {env['python']}. The items API (production settings, access "
        f"log, API key) on {settings['items']:,} items; wrk {settings['threads']} threads, "
        f"{settings['connections_per_worker']} connections per worker; a pool of "
        f"{settings['pool_size']} per worker (less where PostgreSQL had no room for them all); "
        + (
            f"PgBouncer in transaction mode with {settings['bouncer_pool_size']} connections to "
            "PostgreSQL, the service behind it with DB_STATEMENT_CACHE_SIZE=0 and "
            "DB_SESSION_PARAMETERS=false. "
            if settings["bouncer_pool_size"]
            else "no PgBouncer. "
        )
        + f"{settings['rounds']} round(s) of {settings['duration']} s "
        "per server, taking turns; each figure is the median round. Speed-up is against 1 "
        "worker of the same kind. CPU is in cores (1.00 = one core busy): the service's "
        "processes, PgBouncer, and the whole machine (wrk and PostgreSQL included).",
    ]
    by = {(r["endpoint"], r["mode"], r["workers"]): r for r in document["results"]}
    for endpoint in settings["endpoints"]:
        lines += [
            "",
            f"## {endpoint}",
            "",
            "| workers | direct req/s | p99 ms | pool per worker | CPU service, machine | "
            "speed-up | PgBouncer req/s | p99 ms | CPU service, PgBouncer, machine | speed-up | "
            "PgBouncer / direct |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for step in document["steps"]:
            workers = step["workers"]
            direct = by.get((endpoint, "direct", workers))
            bounced = by.get((endpoint, "pgbouncer", workers))
            lines.append(
                f"| {workers} | "
                + _cells(direct, by.get((endpoint, "direct", 1)), pool=True)
                + _cells(bounced, by.get((endpoint, "pgbouncer", 1)), pool=False)
                + f"{_ratio(bounced, direct)} |"
            )
    skipped = [
        f"- {step['workers']} worker(s), {mode}: {why}"
        for step in document["steps"]
        for mode, why in step["skipped"].items()
    ]
    if skipped:
        lines += ["", "Not measured:", "", *skipped]
    return "\n".join(lines) + "\n"


def _cells(result: dict[str, Any] | None, single: dict[str, Any] | None, pool: bool) -> str:
    if result is None:
        return "- | - | - | - | - | " if pool else "- | - | - | - | "
    cpu = ", ".join(f"{cores:.2f}" for cores in result["cpu"].values())
    cells = [f"{result['rps']:,.1f}", f"{result['p99_ms']:,.2f}"]
    if pool:
        cells.append(str(result["pool_per_worker"]))
    cells += [cpu, _ratio(result, single)]
    return " | ".join(cells) + " | "


def _ratio(top: dict[str, Any] | None, bottom: dict[str, Any] | None) -> str:
    if top is None or bottom is None or not bottom["rps"]:
        return "-"
    return f"{top['rps'] / bottom['rps']:.2f}x"
