"""`python -m benchmarks run --replicas N`: a private primary and N streaming standbys for the
run, and what the items API's /metrics say about where its reads went.

The cluster is the run's own: `initdb` and `pg_basebackup -R` into a temporary folder, ports the
kernel picks, Debian's binaries (`PG_BIN`, else the newest /usr/lib/postgresql/*/bin), stopped and
removed at the end. The shared server (`--pg-url`) is not used at all in this mode, so the two
items API variants the run compares (without and with `DATABASE_REPLICA_URLS`) share one primary.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg

from benchmarks.common import log
from benchmarks.servers import free_ports
from queries.loader import load

# The items API variant that reads through the replicas (benchmarks/servers.py names it).
REPLICA_SERVER = "items-api-replicas"
# Where a read that a replica may serve ran: queries/replicas.py's `routed`, /metrics'
# `db_replica_reads_total{route=...}`.
ROUTES = ("replica", "primary_token", "primary_fallback")
_READS = re.compile(r'^db_replica_reads_total\{route="([a-z_]+)"\}\s+([0-9.eE+-]+)\s*$', re.M)
_RETRIES = re.compile(r"^db_replica_retries_total\s+([0-9.eE+-]+)\s*$", re.M)


def _newest_pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


def pg_bin() -> Path:
    return Path(os.environ.get("PG_BIN") or _newest_pg_bin())


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run it as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _run(command: list[str]) -> None:
    done = subprocess.run(_as_postgres(command), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:2])} failed: {done.stdout}{done.stderr}")


class Cluster:
    """A primary and `standbys` streaming standbys in a temporary folder."""

    def __init__(self, standbys: int, root: Path | None = None) -> None:
        if standbys < 1:
            raise ValueError("a replica cluster has at least one standby")
        self.root = root or Path(tempfile.mkdtemp(prefix="bench-replicas-"))
        self.ports = free_ports(standbys + 1)
        self.names = ["primary", *(f"standby{n}" for n in range(1, standbys + 1))]
        self.started: list[str] = []

    def data(self, name: str) -> Path:
        return self.root / name / "data"

    def port(self, name: str) -> int:
        return self.ports[self.names.index(name)]

    @property
    def pg_url(self) -> str:
        """The primary, without a database name (as `--pg-url`)."""
        return f"postgresql://postgres@127.0.0.1:{self.ports[0]}"

    def replica_urls(self, database: str) -> list[str]:
        return [f"postgresql://postgres@127.0.0.1:{port}/{database}" for port in self.ports[1:]]

    def start(self, max_connections: int) -> None:
        """initdb the primary, start it, pg_basebackup -R each standby from it, start them.
        Standbys need max_connections at least the primary's: all get the same."""
        binaries = pg_bin()
        for name in self.names:
            (self.root / name).mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            for path in [self.root, *(self.root / name for name in self.names)]:
                shutil.chown(path, "postgres")
        log(f"private cluster in {self.root}: primary on {self.ports[0]}, initdb")
        _run(
            [
                str(binaries / "initdb"),
                "-D",
                str(self.data("primary")),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=trust",
                "-E",
                "UTF8",
                "--no-instructions",
            ]
        )
        self._start("primary", max_connections)
        for name in self.names[1:]:
            log(f"{name} on {self.port(name)}: pg_basebackup -R")
            _run(
                [
                    str(binaries / "pg_basebackup"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.ports[0]),
                    "-U",
                    "postgres",
                    "-D",
                    str(self.data(name)),
                    "-R",
                    "-X",
                    "stream",
                    "-c",
                    "fast",
                ]
            )
            self._start(name, max_connections)

    def _start(self, name: str, max_connections: int) -> None:
        # PostgreSQL's defaults otherwise (shared_buffers 128MB, fsync on, standbys' conflict
        # delays): the comparison is of the routing, on servers like a default install.
        options = (
            f"-p {self.port(name)} -k {self.root / name} -c listen_addresses=127.0.0.1"
            f" -c max_connections={max_connections} -c log_min_messages=warning"
        )
        log_file = self.root / name / "postgres.log"
        done = subprocess.run(
            _as_postgres(
                [
                    str(pg_bin() / "pg_ctl"),
                    "-D",
                    str(self.data(name)),
                    "-l",
                    str(log_file),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            tail = log_file.read_text()[-2000:] if log_file.exists() else ""
            raise RuntimeError(f"pg_ctl start of {name} failed: {done.stderr}\n{tail}")
        self.started.append(name)

    def stop(self) -> None:
        """Stop every server (fast: the data is thrown away) and remove the folder."""
        for name in reversed(self.started):
            subprocess.run(
                _as_postgres(
                    [
                        str(pg_bin() / "pg_ctl"),
                        "-D",
                        str(self.data(name)),
                        "-m",
                        "fast",
                        "-w",
                        "stop",
                    ]
                ),
                capture_output=True,
                check=False,
            )
        self.started.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def wait_caught_up(self, limit_seconds: float = 120.0) -> float:
        """Wait until every standby has replayed the primary's WAL as of now (after seeding, so
        that no round starts with its replicas out of the rotation). Positions are the
        cluster's, so this asks the `postgres` database, which a standby has from the start.
        Returns the seconds waited."""
        return asyncio.run(
            _caught_up(f"{self.pg_url}/postgres", self.replica_urls("postgres"), limit_seconds)
        )


async def _caught_up(primary: str, replicas: list[str], limit_seconds: float) -> float:
    begun = time.monotonic()
    connection = await asyncpg.connect(primary)
    try:
        target = (await connection.fetchrow(load("replication/primary_position")))[
            "insert_position"
        ]
    finally:
        await connection.close()
    for url in replicas:
        standby = await asyncpg.connect(url)
        try:
            while True:
                replayed = (await standby.fetchrow(load("replication/replay_position")))["replayed"]
                if replayed is not None and replayed >= target:
                    break
                if time.monotonic() - begun > limit_seconds:
                    raise RuntimeError(f"{url} did not replay the seed in {limit_seconds:.0f}s")
                await asyncio.sleep(0.05)
        finally:
            await standby.close()
    return time.monotonic() - begun


def read_counts(metrics_text: str) -> dict[str, float]:
    """From a /metrics page: `db_replica_reads_total` by route, and `retries`
    (`db_replica_retries_total`); 0 for a family not (yet) on the page."""
    counts = dict.fromkeys((*ROUTES, "retries"), 0.0)
    for route, value in _READS.findall(metrics_text):
        if route in counts:
            counts[route] = float(value)
    retries = _RETRIES.search(metrics_text)
    if retries:
        counts["retries"] = float(retries[1])
    return counts


def routing(before: dict[str, float], after: dict[str, float]) -> dict[str, float | int | None]:
    """What happened between two readings of `read_counts`: the reads by route, their total,
    and the shares of the total (None without reads)."""
    delta = {key: round(after[key] - before[key]) for key in (*ROUTES, "retries")}
    total = sum(delta[route] for route in ROUTES)
    shares: dict[str, float | int | None] = {**delta, "reads": total}
    for route in ROUTES:
        shares[f"{route}_share"] = delta[route] / total if total else None
    return shares


def scrape(url: str) -> dict[str, float]:
    """`read_counts` of the server at `url` now."""
    import urllib.request

    with urllib.request.urlopen(url + "/metrics", timeout=10) as reply:  # noqa: S310
        return read_counts(reply.read().decode())


def combine(rounds: list[dict[str, float | int | None]]) -> dict[str, float | int | None]:
    """Several rounds' `routing` as one: counts summed, shares of the sums."""
    summed = {key: sum(int(r[key] or 0) for r in rounds) for key in (*ROUTES, "retries")}
    before = dict.fromkeys(summed, 0.0)
    return routing(before, {key: float(value) for key, value in summed.items()})


def summary(routed: dict[str, float | int | None]) -> str:
    """One line of a `routing`: the reads and where they went."""
    if not routed["reads"]:
        return "no read that a replica may serve"
    parts = [f"{routed['reads']:,} reads"]
    for route in ROUTES:
        share = routed[f"{route}_share"]
        parts.append(f"{route} {routed[route]:,} ({float(share or 0):.1%})")
    return ", ".join(parts) + f"; retries {routed['retries']:,}"
