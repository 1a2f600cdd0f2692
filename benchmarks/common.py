"""What every benchmark command shares: its log lines, a run's unique name, the benchmark user,
and the environment its results record."""

from __future__ import annotations

import json
import os
import platform
import secrets
import socket
import subprocess
import uuid
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Random per run unless given: Settings refuses keys that are written in the repository.
SECRET_KEY = os.environ.get("BENCH_SECRET_KEY") or secrets.token_urlsafe(32)
EMAIL = "bench@example.com"
PASSWORD = "benchmark-password-0123"


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def run_id() -> str:
    """A name part unique to this run, so that two runs on one machine never share a database,
    a port or a folder (`scripts/dev.sh test` may run twice at once)."""
    return uuid.uuid4().hex[:10]


def environment(pg_version: str) -> dict[str, str | int]:
    """The machine, the versions and the commit a result was measured with."""
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
