"""`python -m benchmarks overload`: 8x the normal connections at get-by-id and at a two-word fuzzy
search, at this service and at the FastAPI + SQLAlchemy peer, in one run (issue 11).

Per server and endpoint: a normal run (`--connections`, the throughput goodput is compared with),
then `--duration` seconds at `--factor` times the connections, then one request timed alone right
after the load stops; `--rounds` (3) such pairs, the servers taking turns within each round so
that the drift of a shared VM falls on all alike. Reported: goodput (2xx answered within
REQUEST_TIMEOUT_MS, per second), p50/p99 of all answers, the share of 503s, other 5xx, the slowest
answer, the time of the request after the load, and whether the service met its targets. Goodput
is counted conservatively: every answer slower than the budget is taken to be a 2xx (wrk keeps
latencies and statuses apart).

With `--open-loop`, each round then drives fixed arrival rates (`--rates`, multiples of the
normal run's 2xx/s) for `--duration` each with the open-loop generator (benchmarks/openloop.py),
which keeps sending whatever the answers, and reports per rate goodput, p50/p99 of 2xx answers,
the 503 share and every other status, beside the closed-loop run.

Every run makes its own database (`overload_<random>`) and listens on free ports, so it never
collides with another run or with `python -m benchmarks run`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

from benchmarks import clients, common, database, openloop, seed, servers, tools
from benchmarks.common import log

HERE = Path(__file__).resolve().parent
WRK_DIR = HERE / "wrk"
SERVERS = ["items-api", "fastapi-sqlalchemy"]
# Not run unless asked for: how much of the loss under overload is the stack's own.
REFERENCES = ["bare-blacksheep"]
ENDPOINTS = {"get_by_id": "get by id", "fuzzy_two_words": "two-word fuzzy search"}


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "overload", help="8x the normal connections: goodput, 503s, slowest answer, recovery"
    )
    parser.add_argument("--duration", type=int, default=20, help="seconds of overload (20)")
    parser.add_argument(
        "--normal-duration", type=int, default=10, help="seconds of the normal run (10)"
    )
    parser.add_argument("--connections", type=int, default=32, help="the normal run's (32)")
    parser.add_argument("--factor", type=int, default=8, help="overload = factor x connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk -t")
    parser.add_argument("--items", type=int, default=100_000, help="items to seed (100000)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--pool-size", type=int, default=10)
    parser.add_argument(
        "--request-timeout-ms", type=int, default=5000, help="REQUEST_TIMEOUT_MS of the service"
    )
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432"),
        help="PostgreSQL server to use, without a database name",
    )
    parser.add_argument("--output", type=Path, help="results directory (benchmarks/results)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--rounds", type=int, default=3, help="normal + overload pairs per server and endpoint (3)"
    )
    parser.add_argument(
        "--open-loop",
        action="store_true",
        help="after the closed-loop overload, drive fixed arrival rates (--rates) for --duration",
    )
    parser.add_argument(
        "--rates",
        default="1,2,4,8",
        help="open-loop arrival rates, as multiples of the normal run's 2xx/s (1,2,4,8)",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=openloop.MAX_CONNECTIONS,
        help=f"open-loop connections at most ({openloop.MAX_CONNECTIONS})",
    )


def _three_free_ports() -> tuple[int, int, int]:
    first, second, third = servers.free_ports(3)
    return first, second, third


def _two_word_queries(data: Path, rng_seed: int) -> None:
    rng = random.Random(rng_seed + 2)
    lines = [f"{rng.choice(seed.ADJECTIVES)} {rng.choice(seed.NOUNS)}" for _ in range(500)]
    (data / "two_words.txt").write_text("".join(f"{line}\n" for line in lines))


def _wrk(
    wrk: str,
    url: str,
    endpoint: str,
    seconds: int,
    connections: int,
    threads: int,
    data: Path,
    auth: tuple[str, str] | None,
    budget_ms: int,
) -> dict[str, Any]:
    env = {
        **os.environ,
        "BENCH_DATA": str(data),
        "BENCH_WRK_DIR": str(WRK_DIR),
        "BENCH_OVERLOAD_ENDPOINT": endpoint,
        "BENCH_BUDGET_MS": str(budget_ms),
        "BENCH_AUTH_HEADER": auth[0] if auth else "",
        "BENCH_AUTH_VALUE": auth[1] if auth else "",
    }
    command = [
        wrk,
        "-t",
        str(min(threads, connections)),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--timeout",
        "60s",  # measure slow answers instead of dropping them
        "-s",
        str(WRK_DIR / "overload.lua"),
        url,
    ]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=seconds + 120, check=False
    )
    found = re.search(r"^BENCH_OVERLOAD (.*)$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"wrk failed on {endpoint}:\n{done.stdout}\n{done.stderr}")
    raw = json.loads(found[1])
    elapsed = raw["duration_us"] / 1e6
    answered = raw["s2xx"] + raw["s503"] + raw["s5xx"] + raw["sother"]
    return {
        "connections": connections,
        "seconds": round(elapsed, 3),
        "answers": answered,
        "rps": round(answered / elapsed, 1),
        "ok_rps": round(raw["s2xx"] / elapsed, 1),
        "goodput": round(max(0, raw["s2xx"] - raw["late"]) / elapsed, 1),
        "share_503": round(raw["s503"] / answered, 4) if answered else 0.0,
        "other_5xx": raw["s5xx"],
        "other_status": raw["sother"],
        "late": raw["late"],
        "p50_ms": raw["latency_us"]["p50"] / 1000,
        "p99_ms": raw["latency_us"]["p99"] / 1000,
        "max_ms": raw["latency_us"]["max"] / 1000,
        "socket_errors": raw["errors"],
    }


def _round(
    wrk: str,
    server: servers.Running,
    endpoint: str,
    data: Path,
    dsn: str,
    first_id: str,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """One normal run, the overload right after it, and the lone request after the load."""
    auth = server.spec.auth
    budget_ms = args.request_timeout_ms
    cpu = servers.cpu_seconds(server.process.pid)
    normal = _wrk(
        wrk,
        server.url,
        endpoint,
        args.normal_duration,
        args.connections,
        args.threads,
        data,
        auth,
        budget_ms,
    )
    normal["server_cpu_us"] = _cpu_per_answer(server, cpu, normal["answers"])
    asyncio.run(database.quiesce(dsn))
    servers.settle(server)
    heavy = _wrk(
        wrk,
        server.url,
        endpoint,
        args.duration,
        args.connections * args.factor,
        args.threads,
        data,
        auth,
        budget_ms,
    )
    after = _one_request(server.url, auth, f"/api/v1/items/{first_id}")
    tail = asyncio.run(database.quiesce(dsn)) + servers.settle(server)
    if tail > 1:
        log(f"  ({server.spec.name} was still busy {tail:.1f} s after the load stopped)")
    measured = {"normal": normal, "overload": heavy, "after_load": after, "busy_after_s": tail}
    if args.open_loop:
        measured["open_loop"] = _open_loop(server, endpoint, data, dsn, normal["ok_rps"], args)
    return measured


def _open_loop(
    server: servers.Running,
    endpoint: str,
    data: Path,
    dsn: str,
    capacity: float,
    args: argparse.Namespace,
) -> list[dict[str, Any]]:
    """Fixed arrival rates, multiples of `capacity` (the normal run's 2xx/s), one after the
    other for --duration each, the server left idle between them."""
    factors = _factors(args.rates)
    paths = _paths(endpoint, data)
    headers = [server.spec.auth] if server.spec.auth else []
    runs = []
    for factor, rate in zip(factors, openloop.rates(capacity, factors), strict=True):
        cpu = servers.cpu_seconds(server.process.pid)
        outcome = openloop.drive(
            server.url,
            paths,
            rate=rate,
            seconds=args.duration,
            budget_ms=args.request_timeout_ms,
            headers=headers,
            max_connections=args.max_connections,
        )
        outcome["factor"] = factor
        answered = sum(n for status, n in outcome["statuses"].items() if status != "lost")
        outcome["server_cpu_us"] = _cpu_per_answer(server, cpu, answered)
        runs.append(outcome)
        log(
            f"  open loop {factor:g}x = {rate:,.0f}/s: sent {outcome['sent_rps']:,.1f}/s, "
            f"goodput {outcome['goodput']:,.1f}/s, p99 (2xx) {outcome['p99_ms']:,.1f} ms, "
            f"503 {outcome['share_503']:.1%}, statuses {outcome['statuses']}, "
            f"unanswered {outcome['unanswered']}, generator CPU {outcome['generator_cpu']:.2f}"
        )
        asyncio.run(database.quiesce(dsn))
        servers.settle(server)
    return runs


def _cpu_per_answer(server: servers.Running, before: float | None, answers: int) -> float | None:
    """The server's CPU microseconds per answer since `before` (its CPU seconds then): what a
    2xx costs in a normal run, and a refusal where most answers are 503."""
    now = servers.cpu_seconds(server.process.pid)
    if before is None or now is None or not answers:
        return None
    return round((now - before) / answers * 1e6, 1)


def _factors(rates: str) -> list[float]:
    return [float(factor) for factor in rates.split(",") if factor.strip()]


def _paths(endpoint: str, data: Path) -> list[str]:
    """The requests of `endpoint` as overload.lua makes them, for the open-loop generator."""
    if endpoint == "get_by_id":
        return [f"/api/v1/items/{i}" for i in (data / "ids.txt").read_text().split()]
    words = (data / "two_words.txt").read_text().splitlines()
    return [f"/api/v1/items?limit=20&q={urllib.parse.quote(q)}" for q in words]


def _summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The rounds of one server and endpoint as one result. Throughput, goodput and the
    percentiles are the medians over the rounds (a shared VM drifts by +-15% between runs of
    10 s); the slowest answer and the request after the load are the worst of all rounds, and
    the 503s and other 5xx are counted over all of them."""
    normal = [r["normal"] for r in rounds]
    heavy = [r["overload"] for r in rounds]
    answers = sum(h["answers"] for h in heavy)
    return {
        "normal": {
            "ok_rps": median(n["ok_rps"] for n in normal),
            "other_5xx": sum(n["other_5xx"] for n in normal),
            "p50_ms": median(n["p50_ms"] for n in normal),
            "p99_ms": median(n["p99_ms"] for n in normal),
            "server_cpu_us": _median_known(n.get("server_cpu_us") for n in normal),
        },
        "overload": {
            "connections": heavy[0]["connections"],
            "goodput": median(h["goodput"] for h in heavy),
            "share_503": round(sum(h["share_503"] * h["answers"] for h in heavy) / answers, 4)
            if answers
            else 0.0,
            "other_5xx": sum(h["other_5xx"] for h in heavy),
            "late": sum(h["late"] for h in heavy),
            "p50_ms": median(h["p50_ms"] for h in heavy),
            "p99_ms": median(h["p99_ms"] for h in heavy),
            "max_ms": max(h["max_ms"] for h in heavy),
        },
        "after_load": max((r["after_load"] for r in rounds), key=lambda a: a["ms"]),
        "open_loop": open_loop_summary([r["open_loop"] for r in rounds if "open_loop" in r]),
    }


def open_loop_summary(rounds: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Each arrival rate's runs over the rounds as one: rates, goodput, percentiles, the
    generator's lag and CPU are medians; the slowest answer and the connections the most;
    statuses and unanswered requests are counted over all runs."""
    merged = []
    for runs in zip(*rounds, strict=True):
        statuses: dict[str, int] = {}
        for run in runs:
            for status, count in run["statuses"].items():
                statuses[status] = statuses.get(status, 0) + count
        answers = sum(count for status, count in statuses.items() if status != "lost")
        merged.append(
            {
                **{
                    key: median(run[key] for run in runs)
                    for key in (
                        "factor",
                        "rate",
                        "sent_rps",
                        "answered_rps",
                        "goodput",
                        "p50_ms",
                        "p99_ms",
                        "lag_p99_ms",
                        "generator_cpu",
                    )
                },
                "max_ms": max(run["max_ms"] for run in runs),
                "connections": max(run["connections"] for run in runs),
                "statuses": dict(sorted(statuses.items())),
                "share_503": round(statuses.get("503", 0) / answers, 4) if answers else 0.0,
                "unanswered": sum(run["unanswered"] for run in runs),
                "server_cpu_us": _median_known(run.get("server_cpu_us") for run in runs),
            }
        )
    return merged


def _median_known(values: Iterable[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return median(known) if known else None


def _one_request(url: str, auth: tuple[str, str] | None, path: str) -> dict[str, Any]:
    request = urllib.request.Request(url + path)  # noqa: S310 (http://127.0.0.1)
    if auth:
        request.add_header(*auth)
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:  # noqa: S310
            status = reply.status
            reply.read()
    except urllib.error.HTTPError as error:
        status = error.code
    return {"status": status, "ms": round((time.perf_counter() - start) * 1000, 1)}


def run(args: argparse.Namespace) -> int:
    chosen = [s.strip() for s in args.servers.split(",") if s.strip()]
    if set(chosen) - set(SERVERS + REFERENCES):
        print(f"--servers: choose from {','.join(SERVERS + REFERENCES)}", file=sys.stderr)
        return 2
    try:
        wrk = tools.find_wrk()
    except tools.MissingTool as missing:
        print(f"error: {missing}", file=sys.stderr)
        return 3
    run_id = common.run_id()
    db_name = f"overload_{run_id}"
    dsn = f"{args.pg_url}/{db_name}"
    work = HERE / ".work" / f"overload-{run_id}"
    data = work / "data"
    started = datetime.now(UTC)
    results: list[dict[str, Any]] = []
    running: dict[str, servers.Running] = {}
    log(f"database {db_name}; {args.items:,} items")
    try:
        owner, _ = database.prepare_database(
            args.pg_url, db_name, args.items, args.seed, data, batch_bodies=1
        )
        _two_word_queries(data, args.seed)
        first_id = (data / "ids.txt").read_text().split()[0]
        specs = servers.specs(
            dsn=dsn,
            secret_key=common.SECRET_KEY,
            owner_id=owner,
            api_key="",
            workers=args.workers,
            pool_size=args.pool_size,
            access_log=True,
            ports=_three_free_ports(),
        )
        bootstrap = servers.start(specs["items-api"], work / "logs")
        try:
            api_key = clients.api_key(bootstrap.url)
        finally:
            servers.stop(bootstrap)
        specs = servers.specs(
            dsn=dsn,
            secret_key=common.SECRET_KEY,
            owner_id=owner,
            api_key=api_key,
            workers=args.workers,
            pool_size=args.pool_size,
            access_log=True,
            ports=_three_free_ports(),
        )
        specs["items-api"].env["REQUEST_TIMEOUT_MS"] = str(args.request_timeout_ms)
        for name in chosen:
            running[name] = servers.start(specs[name], work / "logs")
        rounds: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for round_number in range(1, args.rounds + 1):
            for endpoint in ENDPOINTS:
                for name, server in running.items():
                    measured = _round(wrk, server, endpoint, data, dsn, first_id, args)
                    rounds.setdefault((endpoint, name), []).append(measured)
                    heavy, after = measured["overload"], measured["after_load"]
                    log(
                        f"round {round_number} {endpoint:16} {name:19} normal "
                        f"{measured['normal']['ok_rps']:8,.1f}/s  overload: goodput "
                        f"{heavy['goodput']:8,.1f}/s  503 {heavy['share_503']:6.1%}  "
                        f"5xx {heavy['other_5xx']}  p99 {heavy['p99_ms']:7.1f} ms  "
                        f"max {heavy['max_ms']:7.1f} ms  after {after['ms']:.1f} ms"
                    )
        for (endpoint, name), measured in rounds.items():
            outcome = {"endpoint": endpoint, "server": name, **_summary(measured)}
            outcome["targets"] = _targets(outcome, args.request_timeout_ms)
            outcome["rounds"] = measured
            results.append(outcome)
    except BaseException:
        log(f"failed; the servers' logs are in {work / 'logs'}")
        raise
    else:
        shutil.rmtree(work, ignore_errors=True)
    finally:
        for server in running.values():
            servers.stop(server)
        asyncio.run(database.drop_database(args.pg_url, db_name))
    document = {
        "started_at": started.isoformat(timespec="seconds"),
        "command": "python -m benchmarks " + " ".join(sys.argv[1:]),
        "settings": {
            key: getattr(args, key)
            for key in (
                "duration",
                "normal_duration",
                "connections",
                "factor",
                "threads",
                "items",
                "workers",
                "pool_size",
                "request_timeout_ms",
                "rounds",
                "open_loop",
                "rates",
                "max_connections",
            )
        },
        "environment": common.environment("?"),
        "results": results,
    }
    output = args.output or HERE / "results"
    written = write(document, output, f"{started:%Y-%m-%d}-{socket.gethostname()}-overload")
    log("results: " + ", ".join(str(path) for path in written))
    print(markdown(document))
    failed = [
        f"{r['server']} {r['endpoint']}: {target}"
        for r in results
        if r["server"] == "items-api"
        for target, met in r["targets"].items()
        if not met
    ]
    for failure in failed:
        print(f"TARGET MISSED: {failure}", file=sys.stderr)
    return 1 if failed else 0


def _targets(outcome: dict[str, Any], budget_ms: int) -> dict[str, bool]:
    heavy, normal = outcome["overload"], outcome["normal"]
    return {
        "goodput >= 90% of the normal throughput": heavy["goodput"] >= 0.9 * normal["ok_rps"],
        f"slowest answer <= {budget_ms + 1000} ms": heavy["max_ms"] <= budget_ms + 1000,
        "request after the load <= 1 s": outcome["after_load"]["ms"] <= 1000,
        "no 500": heavy["other_5xx"] == 0 and normal["other_5xx"] == 0,
    }


def markdown(document: dict[str, Any]) -> str:
    settings = document["settings"]
    lines = [
        f"# Overload, {document['started_at']}",
        "",
        f"`{document['command']}`: {settings['factor']}x {settings['connections']} = "
        f"{settings['factor'] * settings['connections']} connections for "
        f"{settings['duration']} s, after a normal run of {settings['normal_duration']} s at "
        f"{settings['connections']}; {settings['items']:,} items, pool {settings['pool_size']}, "
        f"{settings['workers']} worker(s), REQUEST_TIMEOUT_MS={settings['request_timeout_ms']}. "
        f"{settings.get('rounds', 1)} round(s) of both runs per server and endpoint: throughput, "
        "goodput and percentiles are the medians of the rounds, the slowest answer and the "
        "request after the load the worst of them, 503s and other 5xx counted over all.",
        "",
        "| endpoint | server | normal 2xx/s | goodput/s | goodput / normal | 503 share | other "
        "5xx | p50 ms | p99 ms | slowest ms | after the load ms | targets |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in document["results"]:
        heavy, normal = r["overload"], r["normal"]
        ratio = heavy["goodput"] / normal["ok_rps"] if normal["ok_rps"] else 0.0
        missed = [target for target, met in r["targets"].items() if not met]
        verdict = "met" if not missed else "missed: " + "; ".join(missed)
        if r["server"] != "items-api":
            verdict = "(peer) " + verdict
        lines.append(
            f"| {ENDPOINTS[r['endpoint']]} | {r['server']} | {normal['ok_rps']:,.1f} | "
            f"{heavy['goodput']:,.1f} | {ratio:.0%} | {heavy['share_503']:.1%} | "
            f"{heavy['other_5xx']} | {heavy['p50_ms']:,.1f} | {heavy['p99_ms']:,.1f} | "
            f"{heavy['max_ms']:,.1f} | {r['after_load']['ms']:,.1f} | {verdict} |"
        )
    if any(r.get("open_loop") for r in document["results"]):
        lines += _open_loop_markdown(document)
    return "\n".join(lines) + "\n"


def _open_loop_markdown(document: dict[str, Any]) -> list[str]:
    settings = document["settings"]
    closed = settings["factor"] * settings["connections"]
    lines = [
        "",
        "## Open loop",
        "",
        "After the closed-loop runs of each round: requests sent at fixed arrival rates, "
        "multiples of the normal run's 2xx/s (the capacity), whatever the answers "
        f"(benchmarks/openloop.py), {settings['duration']} s each, at most "
        f"{settings['max_connections']} connections. A request's latency runs from when it "
        "was due, so every wait counts; p50 and p99 are of 2xx answers, the slowest of any "
        "answer; goodput is the 2xx answered within REQUEST_TIMEOUT_MS of when they were due. "
        f"The closed-loop row ({closed} connections, the table above) is there to compare: its "
        "percentiles are of all answers. Where sent/s falls short of due/s, requests waited "
        "in the generator: for a connection (all of them busy) or, where its send lag grows "
        "and its CPU nears 1.00 core, for the generator itself.",
        "",
        "| endpoint | server | load | due/s | sent/s | goodput/s | goodput / capacity | p50 ms "
        "| p99 ms | slowest ms | 503 share | other statuses | unanswered | generator lag p99 "
        "ms, CPU | server CPU µs per answer |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---:|",
    ]
    for r in document["results"]:
        name = f"| {ENDPOINTS[r['endpoint']]} | {r['server']} |"
        capacity, heavy = r["normal"]["ok_rps"], r["overload"]
        lines.append(
            f"{name} closed, {settings['connections']} connections (normal) | - | - | "
            f"{capacity:,.1f} | 100% | {r['normal']['p50_ms']:,.1f} | "
            f"{r['normal']['p99_ms']:,.1f} | - | - | - | - | - | "
            f"{_micros(r['normal'].get('server_cpu_us'))} |"
        )
        lines.append(
            f"{name} closed, {closed} connections | - | - | {heavy['goodput']:,.1f} | "
            f"{_share(heavy['goodput'], capacity)} | {heavy['p50_ms']:,.1f} | "
            f"{heavy['p99_ms']:,.1f} | {heavy['max_ms']:,.1f} | {heavy['share_503']:.1%} | "
            f"other 5xx: {heavy['other_5xx']} | - | - | - |"
        )
        for run in r.get("open_loop", []):
            others = ", ".join(
                f"{status}: {count:,}"
                for status, count in run["statuses"].items()
                if status != "503" and not status.startswith("2")
            )
            lines.append(
                f"{name} open, {run['factor']:g}x | {run['rate']:,.0f} | {run['sent_rps']:,.1f} | "
                f"{run['goodput']:,.1f} | {_share(run['goodput'], capacity)} | "
                f"{run['p50_ms']:,.1f} | {run['p99_ms']:,.1f} | {run['max_ms']:,.1f} | "
                f"{run['share_503']:.1%} | {others or 'none'} | {run['unanswered']:,} | "
                f"{run['lag_p99_ms']:,.1f}, {run['generator_cpu']:.2f} | "
                f"{_micros(run.get('server_cpu_us'))} |"
            )
    return lines


def _micros(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _share(part: float, whole: float) -> str:
    return f"{part / whole:.0%}" if whole else "-"


def write(document: dict[str, Any], output: Path, stem: str) -> list[Path]:
    output.mkdir(parents=True, exist_ok=True)
    json_path = output / f"{stem}.json"
    json_path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    md_path = output / f"{stem}.md"
    md_path.write_text(markdown(document))
    written = [json_path, md_path]
    with contextlib.suppress(ImportError):  # matplotlib comes with the bench extra
        written.append(_chart(document, output / f"{stem}.png"))
    return written


def _chart(document: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = document["results"]
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    labels = [f"{ENDPOINTS[r['endpoint']]}\n{r['server']}" for r in results]
    positions = range(len(results))
    axes[0].bar(
        [p - 0.2 for p in positions],
        [r["normal"]["ok_rps"] for r in results],
        width=0.4,
        label="normal 2xx/s",
    )
    axes[0].bar(
        [p + 0.2 for p in positions],
        [r["overload"]["goodput"] for r in results],
        width=0.4,
        label="goodput under overload",
    )
    axes[0].set_xticks(list(positions), labels, fontsize=7)
    axes[0].set_ylabel("requests / s")
    axes[0].legend(fontsize=8)
    axes[1].bar(
        [p - 0.2 for p in positions],
        [r["overload"]["p99_ms"] for r in results],
        width=0.4,
        label="p99",
    )
    axes[1].bar(
        [p + 0.2 for p in positions],
        [r["overload"]["max_ms"] for r in results],
        width=0.4,
        label="slowest",
    )
    axes[1].axhline(document["settings"]["request_timeout_ms"] + 1000, color="grey", linestyle="--")
    axes[1].set_xticks(list(positions), labels, fontsize=7)
    axes[1].set_ylabel("ms")
    axes[1].set_yscale("log")
    axes[1].legend(fontsize=8)
    figure.suptitle("Overload: goodput and latency")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
