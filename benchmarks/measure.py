"""One wrk run at a server, and how the rounds of runs become one result and a verdict."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
from pathlib import Path
from typing import Any

from benchmarks import pgbench as pgb
from benchmarks.common import ROOT

WRK_DIR = Path(__file__).resolve().parent / "wrk"


def median_round(runs: list[dict[str, Any]]) -> dict[str, Any]:
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


def pgbench_outcome(endpoint: str, connections: int, measured: pgb.PgbenchResult) -> dict[str, Any]:
    """A pgbench run as a result like wrk's."""
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


def next_batch_position(batch_position: int, endpoint: str, requests: int, connections: int) -> int:
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


def run_wrk(
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
    consistency: bool = False,
) -> dict[str, Any]:
    """One wrk run; with `consistency`, scripts that write send the Consistency-Token of their
    writes on their following reads (benchmarks/wrk/mixed.lua)."""
    threads = min(threads, connections)
    env = {
        **os.environ,
        "BENCH_WRK_THREADS": str(threads),
        "BENCH_BATCH_START": str(batch_start),
        "BENCH_DATA": str(data),
        "BENCH_WRK_DIR": str(WRK_DIR),
        "BENCH_SERVER_TIMING": "1" if timing else "0",
        "BENCH_CONSISTENCY": "1" if consistency else "0",
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
