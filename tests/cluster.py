"""A private PostgreSQL cluster for fault tests: initdb into a temporary folder, a free port,
Debian's binaries. Tests may kill, freeze and restart it; the shared server is never touched."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from tests.servers import free_port


def _newest_pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


# Debian's binaries (the postgresql package), the newest installed; PG_BIN overrides.
PG_BIN = Path(os.environ.get("PG_BIN") or _newest_pg_bin())


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run it as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class Cluster:
    def __init__(self, root: Path, port: int | None = None) -> None:
        self.root = root
        self.data = root / "data"
        self.port = port or free_port()
        self.log = root / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def database_url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def init(self, local_auth: str = "trust", host_auth: str = "trust") -> None:
        """initdb; Debian's own clusters have local_auth="peer", host_auth="scram-sha-256"."""
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        subprocess.run(
            _as_postgres(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    f"--auth-local={local_auth}",
                    f"--auth-host={host_auth}",
                    "-E",
                    "UTF8",
                    "--no-instructions",
                ]
            ),
            check=True,
            capture_output=True,
        )

    def base_backup(self, primary: Cluster) -> None:
        """This cluster as a streaming standby of `primary`: pg_basebackup -R (standby.signal
        and primary_conninfo written) into its data folder; start() then starts it."""
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        subprocess.run(
            _as_postgres(
                [
                    str(PG_BIN / "pg_basebackup"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(primary.port),
                    "-U",
                    "postgres",
                    "-D",
                    str(self.data),
                    "-R",
                    "-X",
                    "stream",
                    "-c",
                    "fast",
                ]
            ),
            check=True,
            capture_output=True,
        )

    def start(self, max_connections: int = 40, options: str = "") -> None:
        """Start the server; `options` are more `-c name=value` settings."""
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
            f" -c max_connections={max_connections} -c superuser_reserved_connections=0"
            f" -c shared_buffers=32MB -c log_min_messages=warning {options}"
        )
        started = subprocess.run(
            _as_postgres(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-l",
                    str(self.log),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            check=False,
            capture_output=True,
        )
        if started.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {started.stderr!r}\n{log[-3000:]}")

    def stop(self) -> None:
        """pg_ctl stop -m immediate: a crash for its clients, no shutdown checkpoint."""
        self.resume()
        subprocess.run(
            _as_postgres(
                [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"]
            ),
            check=False,
            capture_output=True,
        )

    def pids(self) -> list[int]:
        """The postmaster and every process it started."""
        pid_file = self.data / "postmaster.pid"
        if not pid_file.exists():
            return []
        postmaster = int(pid_file.read_text().split()[0])
        children = subprocess.run(
            ["pgrep", "-P", str(postmaster)],  # noqa: S607 (procps, like benchmarks/servers.py)
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        return [postmaster, *map(int, children)]

    def _signal(self, number: signal.Signals) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, number)

    def kill(self) -> None:
        """kill -9 of the postmaster and its backends: a crash."""
        pids = self.pids()
        self._signal(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
            time.sleep(0.05)
        # A killed postmaster nobody reaps stays a zombie, which `kill -0` still finds: the lock
        # file would stop the restart. Every process of the cluster is gone; so goes the file.
        (self.data / "postmaster.pid").unlink(missing_ok=True)
        (self.root / f".s.PGSQL.{self.port}.lock").unlink(missing_ok=True)
        (self.root / f".s.PGSQL.{self.port}").unlink(missing_ok=True)

    def freeze(self) -> None:
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return status.exists() and status.read_text().rsplit(")", 1)[1].split()[0] != "Z"
