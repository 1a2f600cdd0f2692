"""`python -m benchmarks generator-ceiling`: how many requests per second the open-loop generator
(benchmarks/openloop.py) can drive on this machine.

It drives the bare BlackSheep handler's /healthz (no database work) at doubling arrival rates
until fewer than 90% of the requests due are answered within the run, and reports each step with
the CPU the generator and the server used: whichever is near one full core is the limit. On a
machine where both share few cores, the ceiling is that of the pair, which is what an open-loop
run of `overload` on the same machine can reach at most.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import common, openloop, servers
from benchmarks.common import log

HERE = Path(__file__).resolve().parent


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "generator-ceiling", help="the most requests/s the open-loop generator drives here"
    )
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per rate (3)")
    parser.add_argument("--start-rate", type=float, default=2000.0, help="first rate (2000/s)")
    parser.add_argument("--max-rate", type=float, default=256_000.0, help="last rate at most")
    parser.add_argument("--workers", type=int, default=1, help="the bare handler's workers (1)")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432"),
        help="PostgreSQL server the handler's pool connects to (database postgres; no query)",
    )
    parser.add_argument("--output", type=Path, help="results directory (benchmarks/results)")


def run(args: argparse.Namespace) -> int:
    started = datetime.now(UTC)
    port = servers.free_ports(1)[0]
    spec = servers.ServerSpec(
        "bare-blacksheep",
        "bare BlackSheep, /healthz",
        port,
        servers.uvicorn_command(
            "benchmarks.peers.bare_blacksheep.app:app", port, args.workers, False
        ),
        {"DATABASE_URL": f"{args.pg_url}/postgres", "DB_POOL_MAX_SIZE": "1"},
        None,
    )
    work = HERE / ".work" / f"ceiling-{common.run_id()}"
    server = servers.start(spec, work)
    steps: list[dict[str, Any]] = []
    try:
        rate = args.start_rate
        while rate <= args.max_rate:
            begun = time.monotonic()
            before = _cpu(server)
            step = openloop.drive(
                server.url, ["/healthz"], rate=rate, seconds=args.duration, budget_ms=5000
            )
            # Over the run and the answers that came after it: the server works through both.
            elapsed = time.monotonic() - begun
            for name, used in _cpu(server).items():
                step[f"{name}_cpu"] = round((used - before[name]) / elapsed, 2)
            steps.append(step)
            log(
                f"{rate:>9,.0f}/s due: sent {step['sent_rps']:>9,.1f}/s, answered "
                f"{step['answered_rps']:>9,.1f}/s, p99 {step['p99_ms']:,.1f} ms, lag p99 "
                f"{step['lag_p99_ms']:,.1f} ms, CPU generator {step['generator_cpu']:.2f} "
                f"server {step['server_cpu']:.2f} machine {step['machine_cpu']:.2f}"
            )
            servers.settle(server)
            if step["answered_rps"] < 0.9 * rate:
                break
            rate *= 2
    finally:
        servers.stop(server)
    shutil.rmtree(work, ignore_errors=True)  # kept, with the server's log, when a step failed
    document = {
        "started_at": started.isoformat(timespec="seconds"),
        "command": "python -m benchmarks " + " ".join(sys.argv[1:]),
        "environment": common.environment("?"),
        "settings": {"duration": args.duration, "workers": args.workers},
        "steps": steps,
        "ceiling_rps": max(step["answered_rps"] for step in steps),
    }
    output = args.output or HERE / "results"
    output.mkdir(parents=True, exist_ok=True)
    stem = output / f"{started:%Y-%m-%d}-{socket.gethostname()}-generator-ceiling"
    stem.with_suffix(".json").write_text(json.dumps(document, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown(document))
    print(markdown(document))
    return 0


def _cpu(server: servers.Running) -> dict[str, float]:
    return {
        "server": servers.cpu_seconds(server.process.pid) or 0.0,
        "machine": servers.machine_busy_seconds() or 0.0,
    }


def markdown(document: dict[str, Any]) -> str:
    env = document["environment"]
    lines = [
        f"# Open-loop generator ceiling, {document['started_at']}",
        "",
        f"`{document['command']}` on {env['cpu']} ({env['cpus']} CPUs): the bare handler's "
        f"/healthz, {document['settings']['workers']} worker(s), "
        f"{document['settings']['duration']:g} s per rate. CPU is in cores (1.00 = one full "
        "core); the machine's is every process's, other users' included.",
        "",
        "| due /s | sent /s | answered /s | p50 ms | p99 ms | send lag p99 ms | connections "
        "| generator CPU | server CPU | machine CPU |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for step in document["steps"]:
        lines.append(
            f"| {step['rate']:,.0f} | {step['sent_rps']:,.1f} | {step['answered_rps']:,.1f} | "
            f"{step['p50_ms']:,.1f} | {step['p99_ms']:,.1f} | {step['lag_p99_ms']:,.1f} | "
            f"{step['connections']} | {step['generator_cpu']:.2f} | {step['server_cpu']:.2f} | "
            f"{step['machine_cpu']:.2f} |"
        )
    lines += ["", f"Ceiling: {document['ceiling_rps']:,.0f} answers per second."]
    return "\n".join(lines) + "\n"
