"""`python -m benchmarks bulk` end to end on a few hundred items: every step runs and checks its
own outcome (the import's count, each export's completeness line, psql's rows), the results name
the command and the commit, and the run leaves no database and no folder behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from tests import ROOT


def test_a_small_bulk_run_measures_every_step_and_leaves_nothing(
    server_url: str, tmp_path: Path
) -> None:
    pg_url = urlunsplit(urlsplit(server_url)._replace(path=""))
    command = ["benchmarks", "bulk", "--items", "300,500", "--pg-url", pg_url]
    done = subprocess.run(
        [sys.executable, "-m", *command, "--output", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (result,) = tmp_path.glob("*-bulk.json")
    document = json.loads(result.read_text())
    assert document["command"].startswith("python -m benchmarks bulk --items 300,500")
    assert document["environment"]["commit"]
    steps = {(step["items"], step["step"].split(" (")[0]) for step in document["steps"]}
    for size in (300, 500):
        for name in (
            "import",
            "export",
            "psql export",
            "psql COPY + INSERT",
            "psql COPY + INSERT, no search sync",
            "batch endpoint",
        ):
            assert (size, name) in steps
    assert all(step["items_per_second"] > 0 for step in document["steps"])
    assert "| 500 | import (NDJSON) |" in result.with_suffix(".md").read_text()
    name = next(
        line.split()[3].rstrip(";") for line in done.stdout.splitlines() if "fresh database" in line
    )
    assert name.startswith("bench_bulk_")
    with psycopg.connect(server_url, autocommit=True) as connection:
        left = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        assert left.fetchone() is None
    assert not (ROOT / "benchmarks" / ".work" / name).exists()
