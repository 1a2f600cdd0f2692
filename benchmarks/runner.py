"""`python -m benchmarks run`: a fresh seeded database, every server side by side, wrk, pgbench."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import sys
import time
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import clients, common, database, measure, replicas, report, servers, tools
from benchmarks import pgbench as pgb
from benchmarks.common import log

ROOT = common.ROOT
HERE = Path(__file__).resolve().parent
READ = ["get_by_id", "list_by_tag", "fuzzy_search", "paging"]
WRITE = ["create", "create_keyed", "upsert", "patch", "bulk_upsert_1000"]
# Endpoints of features the peers lack (they would ignore the header and measure a plain create).
ITEMS_API_ONLY = {"create_keyed"}
SCENARIOS = {"read": READ, "write": WRITE, "mixed": ["mixed"], "all": [*READ, *WRITE, "mixed"]}
HTTP_SERVERS = ["items-api", "fastapi-sqlalchemy", "bare-blacksheep"]
ALL_SERVERS = [*HTTP_SERVERS, "pgbench"]


def add_parser(commands: Any) -> None:
    run = commands.add_parser("run", help="seed a fresh database and benchmark every server")
    run.add_argument("--scenario", choices=sorted(SCENARIOS), default="all")
    run.add_argument("--endpoints", help="comma-separated subset of the scenario's endpoints")
    run.add_argument("--duration", type=int, default=3, help="seconds per round (default 3)")
    run.add_argument(
        "--warmup", type=int, default=2, help="unrecorded seconds before a server's first round"
    )
    run.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="turns each server takes per endpoint, interleaved; the median round is reported",
    )
    run.add_argument("--items", type=int, default=100_000, help="items to seed (default 100000)")
    run.add_argument("--connections", type=int, default=32, help="wrk connections / pgbench -c")
    run.add_argument(
        "--bulk-connections",
        type=int,
        default=4,
        help="connections for bulk_upsert_1000 (each request carries 1,000 items)",
    )
    run.add_argument("--threads", type=int, default=2, help="wrk threads / pgbench -j")
    run.add_argument("--workers", type=int, default=1, help="worker processes of every server")
    run.add_argument("--pool-size", type=int, default=10, help="database pool of every server")
    run.add_argument(
        "--servers",
        default=",".join(ALL_SERVERS),
        help=f"comma-separated subset of {','.join(ALL_SERVERS)}",
    )
    run.add_argument(
        "--no-access-log",
        action="store_true",
        help="turn off the access log of the items API and the peer (on by default, "
        "as in production)",
    )
    run.add_argument(
        "--server-timing",
        action="store_true",
        help="turn on SERVER_TIMING in the items API and report the mean time its "
        "responses say was spent in the database (costs a little throughput)",
    )
    run.add_argument(
        "--smoke", action="store_true", help="a few seconds of everything on 2,000 items (CI)"
    )
    run.add_argument("--output", type=Path, help="results directory (default benchmarks/results)")
    run.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432"),
        help="PostgreSQL server to use, without a database name",
    )
    run.add_argument(
        "--db-name",
        help="database to (re)create and keep (default: a fresh bench_items_<run id>, "
        "dropped at the end)",
    )
    run.add_argument(
        "--base-port",
        type=int,
        help="servers listen on +1, +2, +3 (default: free ports the kernel picks for this run)",
    )
    run.add_argument("--seed", type=int, default=42, help="random seed of the data")
    run.add_argument(
        "--replicas",
        type=int,
        default=0,
        help="N >= 1: run on a private primary with N streaming standbys of its own (not "
        "--pg-url), and measure the items API twice, without and with DATABASE_REPLICA_URLS "
        "(items-api-replicas): the routing's cost, and where its reads went (default 0: none)",
    )


def run(args: argparse.Namespace) -> int:
    if args.smoke:
        args.duration = 1
        args.rounds = 2
        args.items = min(args.items, 2_000)
        # Without one, a 1-second round ends before a slow server's first 1,000-item upsert does.
        args.warmup = 1
        args.connections = min(args.connections, 8)
    chosen = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = set(chosen) - set(ALL_SERVERS)
    if unknown:
        print(f"unknown servers: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    if args.replicas < 0 or (args.replicas and ("items-api" not in chosen or args.db_name)):
        print(
            "--replicas N needs N >= 0, and with N >= 1 the items-api among --servers and no"
            " --db-name (the run's private cluster goes with its database)",
            file=sys.stderr,
        )
        return 2
    if args.replicas:
        # The replica variant takes its turns right after the plain one.
        chosen.insert(chosen.index("items-api") + 1, replicas.REPLICA_SERVER)
    endpoints = SCENARIOS[args.scenario]
    if args.endpoints:
        wanted = [e.strip() for e in args.endpoints.split(",")]
        endpoints = [e for e in endpoints if e in wanted]
    wrk = tools.find_wrk() if set(chosen) & set(HTTP_SERVERS) else ""
    pgbench_path = tools.find_pgbench() if "pgbench" in chosen else ""
    this_run = common.run_id()
    db_name = args.db_name or f"bench_items_{this_run}"
    work = HERE / ".work" / f"run-{this_run}"
    # A database kept (--db-name) keeps its sample files too, where locust and `instructions
    # --db-name` read them; a run's own database takes its files with it.
    data = HERE / ".work" / "data" if args.db_name else work / "data"
    output = args.output or (work / "smoke-results" if args.smoke else HERE / "results")
    port_count = 4 if args.replicas else 3
    ports = (
        tuple(args.base_port + n for n in range(1, port_count + 1))
        if args.base_port is not None
        else tuple(servers.free_ports(port_count))
    )
    cluster = None
    if args.replicas:
        cluster = replicas.Cluster(args.replicas)
        http_count = len(set(chosen) & set(HTTP_SERVERS)) + 1
        needed = connections_needed(
            http_count, args.workers, args.pool_size, args.connections if "pgbench" in chosen else 0
        )
        try:
            # Each worker of the replica variant adds a polling connection to every server.
            cluster.start(max_connections=needed + args.workers * 2 + 10)
        except Exception:
            cluster.stop()
            raise
        args.pg_url = cluster.pg_url
    dsn = f"{args.pg_url}/{db_name}"
    started = datetime.now(UTC)
    command = "python -m benchmarks " + " ".join(sys.argv[1:])
    outcome = 1
    try:
        outcome = _run(
            args,
            Plan(
                chosen,
                endpoints,
                wrk,
                pgbench_path,
                db_name,
                dsn,
                work,
                data,
                output,
                ports,
                cluster,
            ),
            started,
            command,
        )
        return outcome
    finally:
        if cluster is not None:
            cluster.stop()  # its database with it
            log(f"stopped and removed the private cluster {cluster.root}")
        elif args.db_name is None:
            asyncio.run(database.drop_database(args.pg_url, db_name))
            log(f"dropped {db_name}")
        if outcome != 0:
            log(f"kept {work.relative_to(ROOT)} for its server logs")
        elif args.smoke:
            shutil.rmtree(work, ignore_errors=True)


@dataclass(frozen=True)
class Plan:
    """What one run uses: its servers and endpoints, tools, and its own database and folders."""

    chosen: list[str]
    endpoints: list[str]
    wrk: str
    pgbench_path: str
    db_name: str
    dsn: str
    work: Path
    data: Path
    output: Path
    ports: tuple[int, ...]
    cluster: replicas.Cluster | None = None  # --replicas N: the run's own primary and standbys


def _run(args: argparse.Namespace, plan: Plan, started: datetime, command: str) -> int:
    chosen, endpoints, wrk, pgbench_path = plan.chosen, plan.endpoints, plan.wrk, plan.pgbench_path
    db_name, dsn, work, data, output, ports = (
        plan.db_name,
        plan.dsn,
        plan.work,
        plan.data,
        plan.output,
        plan.ports,
    )
    owner, _ = database.prepare_database(args.pg_url, db_name, args.items, args.seed, data)
    replica_urls = plan.cluster.replica_urls(db_name) if plan.cluster else None
    if plan.cluster:
        waited = plan.cluster.wait_caught_up()
        log(f"{args.replicas} standby(s) replayed the seed ({waited:.1f}s)")
    batches = sorted((data / "batches").glob("*.json"))
    id_texts = (data / "ids.txt").read_text().split()
    queries = (data / "queries.txt").read_text().split("\n")[:-1]
    pg_version = asyncio.run(database.postgres_version(dsn))
    environment = common.environment(pg_version)  # at the start: the code the servers load
    http = [s for s in [*HTTP_SERVERS, replicas.REPLICA_SERVER] if s in chosen]
    # Every server stays up, its pools full, while pgbench runs: all of it must fit at once.
    needed = connections_needed(
        len(http), args.workers, args.pool_size, args.connections if "pgbench" in chosen else 0
    )
    room = asyncio.run(database.connection_room(dsn))
    if needed > room:
        print(
            f"error: {len(http)} server(s) x {args.workers} worker(s) x a pool of "
            f"{args.pool_size}, pgbench and the runner need {needed} connections; PostgreSQL "
            f"has room for {room}. Lower --pool-size or --workers, or raise max_connections.",
            file=sys.stderr,
        )
        return 2

    running: dict[str, servers.Running] = {}
    results: list[dict[str, Any]] = []
    failures: list[str] = []
    try:
        api_key = ""
        spec_args = dict(
            dsn=dsn,
            secret_key=common.SECRET_KEY,
            owner_id=owner,
            workers=args.workers,
            pool_size=args.pool_size,
            access_log=not args.no_access_log,
            ports=ports,
            server_timing=args.server_timing,
            replica_urls=replica_urls,
        )
        if http:
            first = servers.specs(api_key="", **spec_args)["items-api"]
            log("starting items-api to make an API key")
            bootstrap = servers.start(first, work / "logs")
            try:
                api_key = clients.api_key(bootstrap.url)
            finally:
                servers.stop(bootstrap)
        specs = servers.specs(api_key=api_key, **spec_args)
        for name in http:
            log(f"starting {name}: {' '.join(specs[name].command[1:4])} …")
            try:
                running[name] = servers.start(specs[name], work / "logs")
                clients.check(running[name].url, specs[name].auth, id_texts[0])
            except Exception as error:
                failures.append(f"{name} failed to start: {error}")
                log(failures[-1])
                running.pop(name, None)
        # Where the next bulk run starts in the walk over the batch bodies
        # (measure.next_batch_position).
        batch_position = 0
        for endpoint in endpoints:
            connections = (
                args.bulk_connections if endpoint == "bulk_upsert_1000" else (args.connections)
            )
            # Servers take turns, round after round, so that a slow spell of the machine lands on
            # all of them instead of on whichever was measured then; each reports its median round.
            rounds: dict[str, list[dict[str, Any]]] = {}
            tried: dict[str, list[dict[str, Any]]] = {}  # and the warm-up: for the verdict
            measure_pgbench = "pgbench" in chosen and endpoint in pgb.ENDPOINTS
            if measure_pgbench:
                scripts = pgb.write_scripts(work, endpoint, id_texts, owner, batches, 100, queries)
                if endpoint == "bulk_upsert_1000":
                    asyncio.run(pgb.load_batches(dsn, batches))
            for round_number in range(args.rounds):
                for name, server in running.items():
                    if endpoint in ITEMS_API_ONLY and not name.startswith("items-api"):
                        continue
                    # The replica variant's clients carry the Consistency-Token of their writes.
                    carry = name == replicas.REPLICA_SERVER
                    if args.warmup and round_number == 0:
                        warm = measure.run_wrk(
                            wrk,
                            server.url,
                            endpoint,
                            args.warmup,
                            connections,
                            args.threads,
                            data,
                            server.spec.auth,
                            batch_start=batch_position,
                            consistency=carry,
                        )
                        batch_position = measure.next_batch_position(
                            batch_position, endpoint, warm["requests"], connections
                        )
                        tried.setdefault(name, []).append(warm)
                        asyncio.run(database.quiesce(dsn))
                        servers.settle(server)
                    routed_before = replicas.scrape(server.url) if carry else None
                    outcome = measure.run_wrk(
                        wrk,
                        server.url,
                        endpoint,
                        args.duration,
                        connections,
                        args.threads,
                        data,
                        server.spec.auth,
                        timing=args.server_timing and name.startswith("items-api"),
                        batch_start=batch_position,
                        consistency=carry,
                    )
                    batch_position = measure.next_batch_position(
                        batch_position, endpoint, outcome["requests"], connections
                    )
                    outcome.update(
                        endpoint=endpoint,
                        server=name,
                        connections=connections,
                        workers=args.workers,
                    )
                    rounds.setdefault(name, []).append(outcome)
                    tried.setdefault(name, []).append(outcome)
                    timing = outcome["server_timing"]
                    log(
                        f"{endpoint:17} {name:19} {outcome['rps']:>9,.1f} req/s  "
                        f"p50 {outcome['p50_ms']:7.2f}  p99 {outcome['p99_ms']:8.2f} ms  "
                        f"errors {outcome['errors']}"
                        + (
                            f"  (server: db {timing['db_ms']:.2f} of {timing['total_ms']:.2f} ms)"
                            if timing
                            else ""
                        )
                    )
                    tail = asyncio.run(database.quiesce(dsn)) + servers.settle(server)
                    if tail > 1:
                        log(f"  ({name} finished its last requests {tail:.1f}s after wrk stopped)")
                    if routed_before is not None:
                        outcome["replica_routing"] = replica_round(
                            server.url, routed_before, args.workers
                        )
                        log(f"  reads routed: {replicas.summary(outcome['replica_routing'])}")
                    if endpoint in WRITE:
                        asyncio.run(database.vacuum(dsn))
                if measure_pgbench:
                    if endpoint == "bulk_upsert_1000":
                        asyncio.run(pgb.batch_position(dsn, start=batch_position))
                    measured = pgb.run(
                        pgbench_path,
                        db_name,
                        scripts,
                        clients=connections,
                        threads=args.threads,
                        seconds=args.duration,
                        log_dir=work / "pgbench-logs",
                        **_pg_connection(args.pg_url),
                    )
                    if endpoint == "bulk_upsert_1000":
                        batch_position = asyncio.run(pgb.batch_position(dsn))
                    outcome = measure.pgbench_outcome(endpoint, connections, measured)
                    rounds.setdefault("pgbench", []).append(outcome)
                    log(
                        f"{endpoint:17} {'pgbench':19} {outcome['rps']:>9,.1f} tps    "
                        f"p50 {outcome['p50_ms']:7.2f}  p99 {outcome['p99_ms']:8.2f} ms  "
                        f"errors {outcome['errors']}"
                    )
                    if measured.requests == 0:
                        failures.append(
                            f"pgbench ran no transaction on {endpoint}:\n{measured.raw}"
                        )
                    if endpoint in WRITE:
                        asyncio.run(database.vacuum(dsn))
            for name, runs in tried.items():
                problem = measure.verdict(name, endpoint, runs)
                if problem is None:
                    continue
                log(problem)
                if measure.runs_failed(runs) or not args.smoke:
                    failures.append(f"{problem}; see {running[name].log}")
            for runs in rounds.values():
                result = measure.median_round(runs)
                routed = [run["replica_routing"] for run in runs if "replica_routing" in run]
                if routed:
                    result["replica_routing"] = replicas.combine(routed)
                results.append(result)
    finally:
        for server in running.values():
            servers.stop(server)

    document = {
        "started_at": started.isoformat(timespec="seconds"),
        "command": command,
        "smoke": args.smoke,
        "environment": environment,
        "settings": {
            "scenario": args.scenario,
            "duration": args.duration,
            "rounds": args.rounds,
            "items": args.items,
            "connections": args.connections,
            "bulk_connections": args.bulk_connections,
            "threads": args.threads,
            "workers": args.workers,
            "pool_size": args.pool_size,
            "access_log": not args.no_access_log,
            "warmup": args.warmup,
            "server_timing": args.server_timing,
            "replicas": args.replicas,
        },
        "servers": {name: spec.title for name, spec in specs.items() if name in chosen}
        if set(chosen) & set(HTTP_SERVERS)
        else {},
        "results": results,
        "failures": failures,
    }
    if "pgbench" in chosen:
        document["servers"]["pgbench"] = "pgbench -M prepared, the same SQL statements"
    stem = f"{started:%Y-%m-%d}-{socket.gethostname()}"
    if args.replicas:  # beside the plain runs, never their `latest`
        stem += f"-replicas{args.replicas}"
    written = report.write(document, output, stem, latest=not args.smoke and not args.replicas)
    log(
        "results: "
        + ", ".join(
            str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p) for p in written.values()
        )
    )
    print(written["markdown"].read_text())
    if failures:
        for failure in failures:
            print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    return 0


def replica_round(url: str, before: dict[str, float], workers: int) -> dict[str, Any]:
    """Where the reads of the round just measured went, from /metrics before and after it.
    Each worker publishes its counts at most api.metrics.PUBLISH_SECONDS late (the one that
    answers the scrape, at once): with several, wait that long first."""
    if workers > 1:
        from api.metrics import PUBLISH_SECONDS

        time.sleep(PUBLISH_SECONDS + 0.2)
    return replicas.routing(before, replicas.scrape(url))


def connections_needed(servers: int, workers: int, pool_size: int, pgbench_clients: int) -> int:
    """PostgreSQL connections a run holds at its busiest: every server's workers with full
    pools, pgbench's clients, and the runner's own."""
    return servers * workers * pool_size + pgbench_clients + database.SPARE_CONNECTIONS


def _pg_connection(pg_url: str) -> dict[str, Any]:
    parsed = urllib.parse.urlparse(pg_url)
    return {
        "host": parsed.hostname or "127.0.0.1",
        "port": parsed.port or 5432,
        "user": parsed.username or "postgres",
    }
