"""Two benchmark smoke runs at once on one machine (as two `scripts/dev.sh test` would): both
pass, each on its own database, ports and folder, and neither leaves any of them behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from benchmarks import cli, common, servers
from tests import ROOT

WORK = ROOT / "benchmarks" / ".work"


def _bench_databases(server_url: str) -> set[str]:
    with psycopg.connect(server_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'bench\\_%'"
        ).fetchall()
    return {row[0] for row in rows}


def _folders() -> set[str]:
    return {path.name for path in WORK.iterdir()} if WORK.is_dir() else set()


def test_names_ports_and_folders_are_unique_to_a_run() -> None:
    assert len({common.run_id() for _ in range(100)}) == 100
    ports = servers.free_ports(3)
    assert len(set(ports)) == 3
    assert all(port != 18000 + offset for offset, port in zip((1, 2, 3), ports, strict=True))
    parser = cli.parser()
    smoke = parser.parse_args(["run", "--smoke"])
    assert smoke.db_name is None  # a fresh bench_items_<run id>, dropped at the end
    assert smoke.base_port is None  # ports the kernel picks
    assert parser.parse_args(["instructions"]).db_name is None


@pytest.mark.skipif(
    not (shutil.which("wrk") and shutil.which("pgbench")) and not os.environ.get("CI"),
    reason="needs wrk and pgbench (scripts/dev.sh test installs them)",
)
def test_two_smoke_runs_at_once_both_pass_and_leave_nothing(server_url: str) -> None:
    parts = urlsplit(server_url)
    pg_url = urlunsplit(parts._replace(path=""))
    command = [
        sys.executable,
        "-m",
        "benchmarks",
        "run",
        "--smoke",
        "--servers",
        "items-api,pgbench",
        "--endpoints",
        "get_by_id",
        "--pg-url",
        pg_url,
    ]
    runs = [
        subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=240)[0] for run in runs]
    for run, output in zip(runs, outputs, strict=True):
        assert run.returncode == 0, output[-3000:]
    names = [line.split()[-1] for out in outputs for line in out.splitlines() if "dropped" in line]
    assert len(set(names)) == 2  # each had a database of its own
    assert not set(names) & _bench_databases(server_url)  # and dropped it
    # Nor is its work folder left (other runs' may come and go meanwhile).
    runs_ids = {name.removeprefix("bench_items_") for name in names}
    assert not {f"run-{run_id}" for run_id in runs_ids} & _folders()
