"""Start and stop each server under test as a subprocess, with the same workers and pool size."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.seed import NO_QUOTA

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class ServerSpec:
    name: str
    title: str
    port: int
    command: list[str]
    env: dict[str, str]
    auth: tuple[str, str] | None  # (header, value) sent by the load scripts
    health: str = "/healthz"


@dataclass
class Running:
    spec: ServerSpec
    process: subprocess.Popen[bytes]
    log: Path
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.spec.port}"


def uvicorn_command(app: str, port: int, workers: int, access_log: bool) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-server-header",
        "--log-level",
        "warning" if not access_log else "info",
        *([] if access_log else ["--no-access-log"]),
    ]


def specs(
    *,
    dsn: str,
    secret_key: str,
    owner_id: str,
    api_key: str,
    workers: int,
    pool_size: int,
    access_log: bool,
    ports: tuple[int, ...],
    server_timing: bool = False,
    replica_urls: list[str] | None = None,
) -> dict[str, ServerSpec]:
    """Every server's spec; with `replica_urls` (`run --replicas N`) also `items-api-replicas`,
    the items API reading through those standbys, on `ports[3]`."""
    common = {
        "DATABASE_URL": dsn,
        "DB_POOL_MAX_SIZE": str(pool_size),
        "DB_POOL_MIN_SIZE": str(pool_size),
        "SECRET_KEY": secret_key,
        "PYTHONUNBUFFERED": "1",
    }
    made = {
        "items-api": ServerSpec(
            "items-api",
            "items API (production settings, API key)",
            ports[0],
            [
                sys.executable,
                "-m",
                "api",
                "serve",
                "--no-migrate",
                "--host",
                "127.0.0.1",
                "--port",
                str(ports[0]),
                "--workers",
                str(workers),
            ],
            {
                **common,
                "ENVIRONMENT": "production",
                "ACCESS_LOG": "true" if access_log else "false",
                "SERVER_TIMING": "true" if server_timing else "false",
                "LOG_LEVEL": "info",
                # The run's one API key stands for all its clients: the fair-share check and the
                # item quota run on every request, and refuse none.
                "PRINCIPAL_MAX_CONCURRENCY": "10000",
                "ITEMS_MAX_PER_USER": str(NO_QUOTA),
            },
            ("X-API-Key", api_key),
        ),
        "fastapi-sqlalchemy": ServerSpec(
            "fastapi-sqlalchemy",
            "FastAPI + SQLAlchemy 2.0 ORM + Pydantic v2 (API key)",
            ports[1],
            uvicorn_command(
                "benchmarks.peers.fastapi_sqlalchemy.app:app", ports[1], workers, access_log
            ),
            common,
            ("X-API-Key", api_key),
        ),
        "bare-blacksheep": ServerSpec(
            "bare-blacksheep",
            "bare BlackSheep + asyncpg, same SQL (no auth, logs, validation)",
            ports[2],
            uvicorn_command("benchmarks.peers.bare_blacksheep.app:app", ports[2], workers, False),
            {**common, "BENCH_OWNER_ID": owner_id},
            None,
        ),
    }
    if replica_urls:
        plain = made["items-api"]
        made["items-api-replicas"] = ServerSpec(
            "items-api-replicas",
            f"items API as above, reads through {len(replica_urls)} streaming replica(s)"
            " (DATABASE_REPLICA_URLS)",
            ports[3],
            [*plain.command[:-4], "--port", str(ports[3]), *plain.command[-2:]],
            {**plain.env, "DATABASE_REPLICA_URLS": ",".join(replica_urls)},
            plain.auth,
        )
    return made


def free_ports(count: int) -> list[int]:
    """`count` distinct ports free right now, chosen by the kernel: unique to this run."""
    import socket

    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start(spec: ServerSpec, log_dir: Path, timeout: float = 60.0) -> Running:
    if not _port_free(spec.port):
        raise RuntimeError(f"port {spec.port} is taken; choose another --base-port")
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{spec.name}.log"
    env = {**os.environ, **spec.env}
    with log.open("wb") as out:
        process = subprocess.Popen(
            spec.command,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends the workers too
        )
    running = Running(spec, process, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"{spec.name} exited with {process.returncode} while starting; see {log}:\n"
                + log.read_text(errors="replace")[-2000:]
            )
        try:
            health = running.url + spec.health  # http://127.0.0.1:<port>/healthz
            with urllib.request.urlopen(health, timeout=2) as reply:  # noqa: S310
                if reply.status == 200:
                    return running
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    stop(running)
    raise RuntimeError(f"{spec.name} did not answer {spec.health} within {timeout:.0f}s; see {log}")


def stop(running: Running) -> None:
    process = running.process
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def pids(group: int) -> list[int]:
    """The processes of the process group `group`: a server's parent and, with several
    workers, its children (each server starts a group of its own)."""
    try:
        out = subprocess.run(
            ["pgrep", "-g", str(group)], capture_output=True, text=True, check=False
        ).stdout
        return [int(p) for p in out.split()] or [group]
    except FileNotFoundError:
        return [group]


def cpu_seconds(group: int) -> float | None:
    """User and system CPU time the processes of group `group` have used; None without /proc."""
    total = 0.0
    for pid in pids(group):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def machine_busy_seconds() -> float | None:
    """CPU time every core of the machine has spent busy (not idle, not waiting for I/O) since
    boot, from /proc/stat; None without it."""
    try:
        ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return None
    idle = ticks[3] + ticks[4]
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def settle(running: Running, limit_seconds: float = 30.0) -> float:
    """Wait until the server is idle (under 5% of a core over 0.2 s): after wrk stops, a slow
    server may still be working through requests it had queued, on the CPU the next measurement
    needs, with no statement in the database to show for it. Returns the seconds waited."""
    begun = time.monotonic()
    before = cpu_seconds(running.process.pid)
    while before is not None and time.monotonic() - begun < limit_seconds:
        time.sleep(0.2)
        now = cpu_seconds(running.process.pid)
        if now is None or now - before < 0.01:
            break
        before = now
    return time.monotonic() - begun
