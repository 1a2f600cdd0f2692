"""A private PgBouncer in transaction mode for one benchmark run: its own temporary folder and
configuration, a free port on 127.0.0.1, stopped and removed afterwards.

The service behind it runs as docs/operations.md says ("Scaling out, PgBouncer"): no prepared
statement cache (DB_STATEMENT_CACHE_SIZE=0: PgBouncer 1.18 has no protocol-level prepared
statements) and no startup parameters (DB_SESSION_PARAMETERS=false: it refuses unknown ones),
the session settings being set on the database instead (benchmarks.database.set_session_defaults).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks import servers, tools

# What the service needs to run behind PgBouncer 1.18 in transaction mode.
SERVICE_ENV = {"DB_STATEMENT_CACHE_SIZE": "0", "DB_SESSION_PARAMETERS": "false"}
# Client connections besides the servers' pools: the runner's own checks and a margin.
SPARE_CLIENTS = 20


def config_text(
    *,
    database: str,
    host: str,
    port: int,
    user: str,
    listen_port: int,
    server_connections: int,
    max_clients: int,
    folder: Path,
) -> str:
    """pgbouncer.ini for one database (served under its own name) in transaction mode, on
    127.0.0.1 only, with `server_connections` connections to PostgreSQL for up to `max_clients`
    clients, trusting the one user in `folder`/users.txt."""
    return f"""[databases]
{database} = host={host} port={port} dbname={database} user={user}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen_port}
unix_socket_dir =
auth_type = trust
auth_file = {folder / "users.txt"}
pool_mode = transaction
default_pool_size = {server_connections}
max_client_conn = {max_clients}
log_connections = 0
log_disconnections = 0
logfile = {folder / "pgbouncer.log"}
"""


@dataclass(frozen=True)
class Bouncer:
    url: str  # what the service connects to instead of PostgreSQL
    group: int  # its process group, for servers.cpu_seconds


@contextlib.contextmanager
def running(
    pg_url: str, database: str, *, server_connections: int, max_clients: int
) -> Iterator[Bouncer]:
    """A PgBouncer for `database` of the PostgreSQL at `pg_url` while the block runs."""
    path = tools.find_pgbouncer()
    target = urllib.parse.urlsplit(pg_url)
    user = target.username or "postgres"
    listen_port = servers.free_ports(1)[0]
    # Directly under /tmp: it must be readable by the postgres user when run as root.
    folder = Path(tempfile.mkdtemp(prefix="bench-pgbouncer-"))
    (folder / "users.txt").write_text(f'"{user}" ""\n')
    (folder / "pgbouncer.ini").write_text(
        config_text(
            database=database,
            host=target.hostname or "127.0.0.1",
            port=target.port or 5432,
            user=user,
            listen_port=listen_port,
            server_connections=server_connections,
            max_clients=max_clients,
            folder=folder,
        )
    )
    command = [path, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        owner = pwd.getpwnam("postgres")
        for item in (folder, *folder.iterdir()):
            os.chown(item, owner.pw_uid, owner.pw_gid)
        command = ["runuser", "-u", "postgres", "--", *command]
    with (folder / "output.log").open("wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_for(listen_port, process, folder)
        yield Bouncer(f"postgresql://{user}@127.0.0.1:{listen_port}/{database}", process.pid)
    finally:
        _stop(process)
        shutil.rmtree(folder, ignore_errors=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to PgBouncer and runuser (a process group of their own); once all of them are
    gone, return; SIGKILL whatever is left after 10 s."""
    group = process.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        process.poll()  # reaps runuser, which would otherwise stay in the group as a zombie
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
    process.wait(timeout=5)


def _wait_for(port: int, process: subprocess.Popen[bytes], folder: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    logs = [folder / "output.log", folder / "pgbouncer.log"]
    detail = "".join(log.read_text(errors="replace")[-2000:] for log in logs if log.exists())
    raise RuntimeError(f"pgbouncer did not start on port {port}:\n{detail}")
