"""The configuration of docker compose --profile scale (deploy/) run here: Debian's PgBouncer
and HAProxy on the same files, on 127.0.0.1 and free ports. Used by
tests/system/test_compose_scale.py and tests/faults/test_scaleout.py."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
# The PgBouncer release that tracks protocol-level prepared statements (max_prepared_statements).
PREPARED_STATEMENTS_SINCE = (1, 21)


def require(*binaries: str) -> None:
    """Fail (not skip) without the Debian packages that scripts/dev.sh installs."""
    missing = [path for path in binaries if not os.path.exists(path)]
    if missing:
        pytest.fail(f"not installed: {', '.join(missing)} (apt-get install haproxy pgbouncer)")


def pgbouncer_version() -> tuple[int, int]:
    out = subprocess.run([PGBOUNCER, "--version"], capture_output=True, text=True, check=True)
    match = re.search(r"PgBouncer (\d+)\.(\d+)", out.stdout)
    assert match, out.stdout
    return int(match.group(1)), int(match.group(2))


def keeps_prepared_statements() -> bool:
    """Whether the PgBouncer installed here keeps prepared statements in transaction mode: if
    not, the service must run with DB_STATEMENT_CACHE_SIZE=0."""
    return pgbouncer_version() >= PREPARED_STATEMENTS_SINCE


def render_pgbouncer_ini(values: Mapping[str, str]) -> str:
    """deploy/pgbouncer/pgbouncer.ini with @NAME@ replaced as its entrypoint.sh does; without
    the line that needs PgBouncer 1.21+ when the one installed here is older (Debian 12: 1.18)."""
    text = (DEPLOY / "pgbouncer" / "pgbouncer.ini").read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    settings = [line for line in text.splitlines() if not line.startswith(";")]
    assert not any("@" in line for line in settings), "a placeholder left"
    if not keeps_prepared_statements():
        text = re.sub(r"^max_prepared_statements\s*=.*\n", "", text, flags=re.MULTILINE)
    return text


def chown_to_postgres(*paths: Path) -> None:
    """As root, hand `paths` to the postgres user, whom PgBouncer and PostgreSQL run as."""
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        for path in paths:
            os.chown(path, owner.pw_uid, owner.pw_gid)


def start_pgbouncer(folder: Path, ini: str, user: str, password: str) -> subprocess.Popen[bytes]:
    """PgBouncer on `ini` (written into `folder` with its userlist); returns once it listens.
    Stop it with tests.servers.stop_server."""
    (folder / "pgbouncer.ini").write_text(ini)
    (folder / "userlist.txt").write_text(f'"{user}" "{password}"\n')
    chown_to_postgres(folder, *folder.iterdir())
    command = [PGBOUNCER, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        # setpriv execs PgBouncer itself (runuser would stay its parent, and take 2 s to stop).
        command = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", *command]
    found = re.search(r"^listen_port = (\d+)$", ini, re.MULTILINE)
    assert found, "no listen_port"
    port = int(found.group(1))
    log = folder / "pgbouncer.out"  # a file: a pipe nobody reads would stall it once full
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    process.wait()
    raise AssertionError(f"pgbouncer did not start:\n{log.read_text()[-3000:]}")
