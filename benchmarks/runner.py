"""`python -m benchmarks run`: a fresh seeded database, every server side by side, wrk, pgbench."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from api.sqltools.statements import tooling
from benchmarks import instructions, overload, report, search_quality, seed, servers, tools
from benchmarks import pgbench as pgb

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
WRK_DIR = HERE / "wrk"
READ = ["get_by_id", "list_by_tag", "fuzzy_search", "paging"]
WRITE = ["create", "create_keyed", "upsert", "patch", "bulk_upsert_1000"]
# Endpoints of features the peers lack (they would ignore the header and measure a plain create).
ITEMS_API_ONLY = {"create_keyed"}
SCENARIOS = {"read": READ, "write": WRITE, "mixed": ["mixed"], "all": [*READ, *WRITE, "mixed"]}
HTTP_SERVERS = ["items-api", "fastapi-sqlalchemy", "bare-blacksheep"]
ALL_SERVERS = [*HTTP_SERVERS, "pgbench"]
# Random per run unless given: Settings refuses keys that are written in the repository.
SECRET_KEY = os.environ.get("BENCH_SECRET_KEY") or secrets.token_urlsafe(32)
EMAIL = "bench@example.com"
PASSWORD = "benchmark-password-0123"
INSTRUCTION_ITEMS = 2_000


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    commands = parser.add_subparsers(dest="command", required=True)
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
    again = commands.add_parser(
        "report", help="re-render the Markdown table and the charts from a results JSON file"
    )
    again.add_argument("json", type=Path)
    counted = commands.add_parser(
        "instructions",
        help="Python-side instructions per GET by id, items API and bare handler (callgrind)",
    )
    counted.add_argument("--requests", type=int, default=1000, help="N: runs N and 3N requests")
    counted.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432"),
        help="PostgreSQL server of the database `run` seeded",
    )
    counted.add_argument(
        "--db-name",
        help="a database `run --db-name` seeded and kept (default: a fresh one of "
        f"{INSTRUCTION_ITEMS:,} items, made for this count and dropped afterwards)",
    )
    search_quality.add_parser(commands)
    overload.add_parser(commands)
    return parser


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


# ------------------------------------------------------------------ database
async def _recreate_database(pg_url: str, name: str) -> None:
    connection = await asyncpg.connect(f"{pg_url}/postgres")
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def _drop_database(pg_url: str, name: str) -> None:
    connection = await asyncpg.connect(f"{pg_url}/postgres")
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def run_id() -> str:
    """A name part unique to this run, so that two runs on one machine never share a database,
    a port or a folder (`scripts/dev.sh test` may run twice at once)."""
    return uuid.uuid4().hex[:10]


def prepare_database(
    pg_url: str, name: str, items: int, rng_seed: int, data: Path
) -> tuple[str, list[uuid.UUID]]:
    """A fresh database `name`: migrated, the benchmark user, `items` seeded items, and the
    sample files in `data`. Returns the owner's id and the items' ids."""
    dsn = f"{pg_url}/{name}"
    log(f"fresh database {name}; migrations")
    asyncio.run(_recreate_database(pg_url, name))
    _api(["migrate", "up"], dsn)
    made = _api(
        ["users", "create", EMAIL, "--scopes", "items:read,items:write,admin"],
        dsn,
        stdin=PASSWORD + "\n",
    )
    owner_id = re.search(r"\(([0-9a-f-]{36})\)", made)
    assert owner_id is not None, made
    log(f"seeding {items:,} items with COPY")
    begun = time.perf_counter()
    ids = seed.run_seed(dsn, uuid.UUID(owner_id[1]), items, rng_seed)
    log(f"seeded in {time.perf_counter() - begun:.1f}s")
    seed.write_samples(data, ids, rng_seed, batch_bodies=32)
    return owner_id[1], ids


def _api(args: list[str], dsn: str, stdin: str | None = None) -> str:
    env = {**os.environ, "DATABASE_URL": dsn, "SECRET_KEY": SECRET_KEY, "LOG_LEVEL": "warning"}
    done = subprocess.run(
        [sys.executable, "-m", "api", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"python -m api {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


async def _vacuum(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(tooling("bench_vacuum"))
        await connection.execute(tooling("bench_checkpoint"))
    finally:
        await connection.close()


async def _quiesce(dsn: str, limit_seconds: float = 60.0) -> float:
    """Wait until no statement runs in the benchmark database: a server may still be working
    through requests wrk sent before it stopped, and that tail must not overlap the next run."""
    connection = await asyncpg.connect(dsn)
    begun = time.monotonic()
    try:
        while time.monotonic() - begun < limit_seconds:
            busy = await connection.fetchval(tooling("bench_busy_backends"))
            if busy == 0:
                break
            await asyncio.sleep(0.1)
    finally:
        await connection.close()
    return time.monotonic() - begun


async def _postgres_version(dsn: str) -> str:
    connection = await asyncpg.connect(dsn)
    try:
        return str(await connection.fetchval(tooling("server_version"))).split()[0]
    finally:
        await connection.close()


# ------------------------------------------------------------------ HTTP set-up
def _post(url: str, data: bytes, headers: dict[str, str]) -> dict[str, Any]:
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310 (http://127.0.0.1)
        return json.loads(reply.read())


def _api_key(base_url: str) -> str:
    """Log in and make an API key, through the service's endpoints, as a client would."""
    form = urllib.parse.urlencode(
        {"grant_type": "password", "username": EMAIL, "password": PASSWORD}
    ).encode()
    token = _post(
        f"{base_url}/api/v1/auth/token", form, {"Content-Type": "application/x-www-form-urlencoded"}
    )["access_token"]
    made = _post(
        f"{base_url}/api/v1/api-keys",
        b'{"name":"bench"}',
        {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    return str(made["key"])


def _check(url: str, auth: tuple[str, str] | None, item_id: str) -> None:
    """One authenticated GET, so that a server answering only errors fails loudly and early."""
    request = urllib.request.Request(f"{url}/api/v1/items/{item_id}")  # noqa: S310
    if auth:
        request.add_header(*auth)
    with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310 (http://127.0.0.1)
        body = json.loads(reply.read())
    if body.get("id") != item_id:
        raise RuntimeError(f"{url} answered {body!r} for item {item_id}")


# ------------------------------------------------------------------ load
def _median_round(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One server's rounds on one endpoint as one result: the median of the throughputs and of
    each latency percentile, the worst maximum, every request and error; the rounds kept too."""
    combined = dict(runs[0])
    for key in ("rps", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "mb_per_s"):
        if key in combined:
            combined[key] = statistics.median(run[key] for run in runs)
    combined["max_ms"] = max(run["max_ms"] for run in runs)
    for key in ("requests", "ok_requests", "errors", "seconds"):
        combined[key] = sum(run[key] for run in runs)
    timings = [run["server_timing"] for run in runs if run.get("server_timing")]
    if timings:
        combined["server_timing"] = {
            "timed": sum(timing["timed"] for timing in timings),
            "db_ms": statistics.median(timing["db_ms"] for timing in timings),
            "total_ms": statistics.median(timing["total_ms"] for timing in timings),
        }
    combined["rounds"] = [
        {key: run[key] for key in ("rps", "p50_ms", "p99_ms", "errors")} for run in runs
    ]
    return combined


def _pgbench_outcome(
    endpoint: str, connections: int, measured: pgb.PgbenchResult
) -> dict[str, Any]:
    """A pgbench run as a result like _wrk's."""
    return {
        "endpoint": endpoint,
        "server": "pgbench",
        "connections": connections,
        "requests": measured.requests,
        "ok_requests": measured.requests,
        "seconds": measured.seconds,
        "rps": round(measured.rps, 1),
        "p50_ms": measured.p50_ms,
        "p90_ms": measured.p90_ms,
        "p99_ms": measured.p99_ms,
        "max_ms": measured.max_ms,
        "errors": measured.errors,
    }


def _past(batch_position: int, endpoint: str, requests: int, connections: int) -> int:
    """Where the next bulk run starts: after every body this run sent.

    Every server and pgbench walk the bodies in one order, continuing where the last run stopped.
    The bodies of one set of rows come in three versions, a third of the walk apart, so each
    body written changes its rows, as long as no run starts on a body whose rows still hold it.
    wrk counts finished requests only; up to one per connection was still in flight, and its
    threads may be a few requests apart, hence the margin.
    """
    if endpoint != "bulk_upsert_1000":
        return batch_position
    return batch_position + requests + 2 * connections


def runs_failed(runs: list[dict[str, Any]]) -> bool:
    """Every request that ended, in these runs of one server on one endpoint, was an error."""
    return not any(run["ok_requests"] for run in runs) and any(run["errors"] for run in runs)


def verdict(name: str, endpoint: str, runs: list[dict[str, Any]]) -> str | None:
    """What is wrong with a server's runs on an endpoint (its warm-up and rounds), or None.

    wrk counts the requests that ended within a run: errors (a status of 400 or more, a reset, a
    timeout) or answers. A run may end before a slow request does, so no answer and no error is
    not a failure of the server: the runs were shorter than one request.
    """
    if any(run["ok_requests"] for run in runs):
        return None
    seconds = sum(run["seconds"] for run in runs)
    if runs_failed(runs):
        errors: dict[str, int] = {}
        for run in runs:
            for kind, count in run["error_detail"].items():
                errors[kind] = errors.get(kind, 0) + count
        return f"{name} answered only errors on {endpoint} in {seconds:g} s: {errors}"
    return (
        f"{name} completed no {endpoint} request in {seconds:g} s and none failed:"
        " each takes longer than the runs were long"
    )


def _wrk(
    wrk: str,
    url: str,
    endpoint: str,
    seconds: int,
    connections: int,
    threads: int,
    data: Path,
    auth: tuple[str, str] | None,
    timing: bool = False,
    batch_start: int = 0,
) -> dict[str, Any]:
    threads = min(threads, connections)
    env = {
        **os.environ,
        "BENCH_WRK_THREADS": str(threads),
        "BENCH_BATCH_START": str(batch_start),
        "BENCH_DATA": str(data),
        "BENCH_WRK_DIR": str(WRK_DIR),
        "BENCH_SERVER_TIMING": "1" if timing else "0",
        "BENCH_AUTH_HEADER": auth[0] if auth else "",
        "BENCH_AUTH_VALUE": auth[1] if auth else "",
    }
    command = [
        wrk,
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--timeout",
        "30s",
        "-s",
        str(WRK_DIR / f"{endpoint}.lua"),
        url,
    ]
    done = subprocess.run(
        command,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 90,
        check=False,
    )
    match = re.search(r"^BENCH_JSON (.*)$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed on {endpoint}:\n{done.stdout}\n{done.stderr}")
    raw = json.loads(match[1])
    seconds_taken = raw["duration_us"] / 1e6
    errors = raw["errors"]
    ok = raw["requests"] - errors["status"]
    latency = raw["latency_us"]
    timed = re.search(r"^BENCH_TIMING (.*)$", done.stdout, re.MULTILINE)
    server_timing = json.loads(timed[1]) if timed else None
    return {
        "server_timing": server_timing,
        "requests": raw["requests"],
        "ok_requests": ok,
        "seconds": round(seconds_taken, 3),
        "rps": round(ok / seconds_taken, 1) if seconds_taken else 0.0,
        "p50_ms": latency["p50"] / 1000,
        "p90_ms": latency["p90"] / 1000,
        "p99_ms": latency["p99"] / 1000,
        "max_ms": latency["max"] / 1000,
        "mean_ms": round(latency["mean"] / 1000, 3),
        "errors": sum(errors.values()),
        "error_detail": errors,
        "mb_per_s": round(raw["bytes"] / seconds_taken / 1e6, 2) if seconds_taken else 0.0,
    }


def _environment(pg_version: str) -> dict[str, str | int]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for package in (
        "blacksheep",
        "asyncpg",
        "msgspec",
        "uvicorn",
        "fastapi",
        "sqlalchemy",
        "pydantic",
    ):
        try:
            from importlib.metadata import version

            versions[package] = version(package)
        except Exception:
            versions[package] = "?"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "api", "queries", "sql", "migrations"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if changed:
            commit += " (with uncommitted changes in api/, queries/, sql/ or migrations/)"
    except FileNotFoundError:
        commit = ""
    return {
        "machine": socket.gethostname(),
        "cpu": cpu,
        "cpus": os.cpu_count() or 0,
        "python": platform.python_version(),
        "postgres": f"PostgreSQL {pg_version}",
        "packages": json.dumps(versions),
        "commit": commit,
    }


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
    endpoints = SCENARIOS[args.scenario]
    if args.endpoints:
        wanted = [e.strip() for e in args.endpoints.split(",")]
        endpoints = [e for e in endpoints if e in wanted]
    wrk = tools.find_wrk() if set(chosen) & set(HTTP_SERVERS) else ""
    pgbench_path = tools.find_pgbench() if "pgbench" in chosen else ""
    this_run = run_id()
    db_name = args.db_name or f"bench_items_{this_run}"
    work = HERE / ".work" / f"run-{this_run}"
    # A database kept (--db-name) keeps its sample files too, where locust and `instructions
    # --db-name` read them; a run's own database takes its files with it.
    data = HERE / ".work" / "data" if args.db_name else work / "data"
    output = args.output or (work / "smoke-results" if args.smoke else HERE / "results")
    ports = (
        (args.base_port + 1, args.base_port + 2, args.base_port + 3)
        if args.base_port is not None
        else tuple(servers.free_ports(3))
    )
    dsn = f"{args.pg_url}/{db_name}"
    started = datetime.now(UTC)
    command = "python -m benchmarks " + " ".join(sys.argv[1:])
    outcome = 1
    try:
        outcome = _run(
            args,
            Plan(chosen, endpoints, wrk, pgbench_path, db_name, dsn, work, data, output, ports),
            started,
            command,
        )
        return outcome
    finally:
        if args.db_name is None:
            asyncio.run(_drop_database(args.pg_url, db_name))
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
    owner, _ = prepare_database(args.pg_url, db_name, args.items, args.seed, data)
    batches = sorted((data / "batches").glob("*.json"))
    id_texts = (data / "ids.txt").read_text().split()
    queries = (data / "queries.txt").read_text().split("\n")[:-1]
    pg_version = asyncio.run(_postgres_version(dsn))
    environment = _environment(pg_version)  # at the start: the code the servers load

    running: dict[str, servers.Running] = {}
    results: list[dict[str, Any]] = []
    failures: list[str] = []
    try:
        http = [s for s in HTTP_SERVERS if s in chosen]
        api_key = ""
        spec_args = dict(
            dsn=dsn,
            secret_key=SECRET_KEY,
            owner_id=owner,
            workers=args.workers,
            pool_size=args.pool_size,
            access_log=not args.no_access_log,
            ports=ports,
            server_timing=args.server_timing,
        )
        if http:
            first = servers.specs(api_key="", **spec_args)["items-api"]
            log("starting items-api to make an API key")
            bootstrap = servers.start(first, work / "logs")
            try:
                api_key = _api_key(bootstrap.url)
            finally:
                servers.stop(bootstrap)
        specs = servers.specs(api_key=api_key, **spec_args)
        for name in http:
            log(f"starting {name}: {' '.join(specs[name].command[1:4])} …")
            try:
                running[name] = servers.start(specs[name], work / "logs")
                _check(running[name].url, specs[name].auth, id_texts[0])
            except Exception as error:
                failures.append(f"{name} failed to start: {error}")
                log(failures[-1])
                running.pop(name, None)
        # Where the next bulk run starts in the walk over the batch bodies (see _past).
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
                    if endpoint in ITEMS_API_ONLY and name != "items-api":
                        continue
                    if args.warmup and round_number == 0:
                        warm = _wrk(
                            wrk,
                            server.url,
                            endpoint,
                            args.warmup,
                            connections,
                            args.threads,
                            data,
                            server.spec.auth,
                            batch_start=batch_position,
                        )
                        batch_position = _past(
                            batch_position, endpoint, warm["requests"], connections
                        )
                        tried.setdefault(name, []).append(warm)
                        asyncio.run(_quiesce(dsn))
                        servers.settle(server)
                    outcome = _wrk(
                        wrk,
                        server.url,
                        endpoint,
                        args.duration,
                        connections,
                        args.threads,
                        data,
                        server.spec.auth,
                        timing=args.server_timing and name == "items-api",
                        batch_start=batch_position,
                    )
                    batch_position = _past(
                        batch_position, endpoint, outcome["requests"], connections
                    )
                    outcome.update(endpoint=endpoint, server=name, connections=connections)
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
                    tail = asyncio.run(_quiesce(dsn)) + servers.settle(server)
                    if tail > 1:
                        log(f"  ({name} finished its last requests {tail:.1f}s after wrk stopped)")
                    if endpoint in WRITE:
                        asyncio.run(_vacuum(dsn))
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
                    outcome = _pgbench_outcome(endpoint, connections, measured)
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
                        asyncio.run(_vacuum(dsn))
            for name, runs in tried.items():
                problem = verdict(name, endpoint, runs)
                if problem is None:
                    continue
                log(problem)
                if runs_failed(runs) or not args.smoke:
                    failures.append(f"{problem}; see {running[name].log}")
            results.extend(_median_round(runs) for runs in rounds.values())
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
    written = report.write(document, output, stem, latest=not args.smoke)
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


def _pg_connection(pg_url: str) -> dict[str, Any]:
    parsed = urllib.parse.urlparse(pg_url)
    return {
        "host": parsed.hostname or "127.0.0.1",
        "port": parsed.port or 5432,
        "user": parsed.username or "postgres",
    }


def rerender(path: Path) -> int:
    document = json.loads(path.read_text())
    latest = path.parent / "latest.md"
    is_latest = latest.is_file() and document["started_at"] in latest.read_text()
    written = report.write(document, path.parent, path.stem, latest=is_latest)
    print("\n".join(str(p) for p in written.values()))
    return 0


def count_instructions(args: argparse.Namespace) -> int:
    this_run = run_id()
    work = HERE / ".work" / f"instructions-{this_run}"
    if args.db_name is None:
        name = f"bench_instructions_{this_run}"
        data = work / "data"
    else:
        name, data = args.db_name, HERE / ".work" / "data"
    dsn = f"{args.pg_url}/{name}"
    try:
        if args.db_name is None:
            prepare_database(args.pg_url, name, INSTRUCTION_ITEMS, 42, data)
        counts = {
            server: instructions.count(server, args.requests, dsn, data)
            for server in instructions.SERVERS
        }
    finally:
        if args.db_name is None:
            asyncio.run(_drop_database(args.pg_url, name))
        shutil.rmtree(work, ignore_errors=True)
    for name, value in counts.items():
        print(f"{name:16} {value:>9,} instructions per GET /api/v1/items/{{id}}")
    print(f"items-api / bare: {counts['items-api'] / counts['bare-blacksheep']:.2f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "report":
        return rerender(args.json)
    if args.command == "instructions":
        return count_instructions(args)
    if args.command == "search-quality":
        return search_quality.main(args)
    if args.command == "overload":
        return overload.run(args)
    try:
        return run(args)
    except tools.MissingTool as missing:
        print(f"error: {missing}", file=sys.stderr)
        return 3
