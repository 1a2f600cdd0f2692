"""docker compose --profile scale without Docker (issue 23): every piece a process on 127.0.0.1
with free ports, on the profile's own configuration (deploy/). A private primary set up by
deploy/postgres/primary-init.sh (the service's role, the replication role and slot), a standby
copied from it by deploy/postgres/replica-entrypoint.sh (pg_basebackup -R through that slot as
the replication role), Debian's PgBouncer in transaction mode before each, two API instances
(`python -m api serve`) and Debian's HAProxy before them. Never the shared server.

Reads with a Consistency-Token see the write on either instance while the standby's replay is
paused; without it a read may be stale (REPLICA_MAX_LAG_MS is long here, so the paused standby
stays in the rotation); an instance that stops leaves HAProxy's rotation and costs no error.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx
import psycopg
import pytest

from api import migrate
from tests.cluster import PG_BIN, Cluster
from tests.deploy import (
    DEPLOY,
    HAPROXY,
    PGBOUNCER,
    chown_to_postgres,
    keeps_prepared_statements,
    render_pgbouncer_ini,
    require,
    start_pgbouncer,
)
from tests.servers import free_port, service_env, start_server, stop_server

pytestmark = pytest.mark.skipif(
    not (PG_BIN / "pg_basebackup").exists(), reason=f"no PostgreSQL binaries in {PG_BIN}"
)

APP_PASSWORD = "app-password-for-the-scaleout-test"
REPLICATION_PASSWORD = "replication-password-for-the-scaleout-test"
SLOT = "replica_1"
EMAIL = "scaleout@example.com"
USER_PASSWORD = "scale-out tests password"
SCOPES = "items:read,items:write"
# Long enough that a standby paused for the whole test stays in the rotation: reads without a
# token may then be stale, which the test shows.
MAX_LAG_MS = 60_000
PATIENCE_S = 20.0


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"never: {what}")
        time.sleep(0.05)


@dataclass
class Stack:
    primary: Cluster
    standby: Cluster
    instances: list[int]  # each API instance's own port
    processes: dict[str, subprocess.Popen[bytes]]
    haproxy_port: int
    haproxy_log: Path
    headers: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.haproxy_port}"

    def superuser(self, cluster: Cluster) -> psycopg.Connection[tuple[object, ...]]:
        """The superuser over the cluster's socket: TCP asks for passwords, as in the profile."""
        return psycopg.connect(
            host=str(cluster.root),
            port=cluster.port,
            user="postgres",
            dbname="postgres",
            autocommit=True,
        )


def _set_up_primary(primary: Cluster) -> None:
    """initdb with passwords over TCP, then the profile's own first-start script."""
    primary.init(local_auth="trust", host_auth="scram-sha-256")
    primary.start()
    subprocess.run(
        ["/bin/sh", str(DEPLOY / "postgres" / "primary-init.sh")],
        env={
            **os.environ,
            "POSTGRES_USER": "postgres",
            "PGHOST": str(primary.root),
            "PGPORT": str(primary.port),
            "PGDATA": str(primary.data),
            "APP_DB_PASSWORD": APP_PASSWORD,
            "REPLICATION_PASSWORD": REPLICATION_PASSWORD,
            "REPLICATION_SLOT": SLOT,
        },
        check=True,
        capture_output=True,
    )
    with psycopg.connect(
        host=str(primary.root), port=primary.port, user="postgres", autocommit=True
    ) as connection:
        connection.execute("SELECT pg_reload_conf()")  # the pg_hba.conf line it added


def _base_backup(standby: Cluster, primary: Cluster, shims: Path) -> None:
    """deploy/postgres/replica-entrypoint.sh itself, with the image's commands it calls as shims:
    su-exec (setpriv here) and docker-entrypoint.sh (nothing: Cluster.start starts the server)."""
    shims.mkdir()
    (shims / "su-exec").write_text(
        "#!/bin/sh\nuser=$1; shift\n"
        'exec setpriv --reuid="$user" --regid="$user" --init-groups "$@"\n'
    )
    (shims / "docker-entrypoint.sh").write_text("#!/bin/sh\nexit 0\n")
    for shim in shims.iterdir():
        shim.chmod(0o755)
    chown_to_postgres(standby.root)
    subprocess.run(
        ["/bin/sh", str(DEPLOY / "postgres" / "replica-entrypoint.sh"), "postgres"],
        env={
            **os.environ,
            "PATH": f"{shims}:{PG_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "PGDATA": str(standby.data),
            "PRIMARY_HOST": "127.0.0.1",
            "PRIMARY_PORT": str(primary.port),
            "REPLICATION_PASSWORD": REPLICATION_PASSWORD,
            "REPLICATION_SLOT": SLOT,
        },
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert (standby.data / "standby.signal").exists()
    assert f"primary_slot_name = '{SLOT}'" in (standby.data / "postgresql.auto.conf").read_text()


def _bouncer(folder: Path, target: Cluster) -> tuple[subprocess.Popen[bytes], str]:
    folder.mkdir()
    port = free_port()
    ini = render_pgbouncer_ini(
        {
            "TARGET_HOST": "127.0.0.1",
            "TARGET_PORT": str(target.port),
            "LISTEN_ADDR": "127.0.0.1",
            "LISTEN_PORT": str(port),
            "RUN_DIR": str(folder),
        }
    )
    process = start_pgbouncer(folder, ini, "items", APP_PASSWORD)
    return process, f"postgresql://items:{APP_PASSWORD}@127.0.0.1:{port}/items"


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    require(HAPROXY, PGBOUNCER)
    root = Path(tempfile.mkdtemp(prefix="items-scaleout-"))
    chown_to_postgres(root)
    primary, standby = Cluster(root / "primary"), Cluster(root / "standby")
    primary.root.mkdir()
    standby.root.mkdir()
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        _set_up_primary(primary)
        direct = f"postgresql://items:{APP_PASSWORD}@127.0.0.1:{primary.port}/items"
        migrate.up(direct)  # as the compose file's `migrate` service: once, on the primary
        _base_backup(standby, primary, root / "shims")
        standby.start()
        processes["pgbouncer-primary"], primary_url = _bouncer(root / "bouncer-primary", primary)
        processes["pgbouncer-replica"], replica_url = _bouncer(root / "bouncer-replica", standby)
        env = service_env(
            primary_url,
            DATABASE_REPLICA_URLS=replica_url,
            # Debian's PgBouncer 1.18 keeps no prepared statements: no cache then.
            DB_STATEMENT_CACHE_SIZE="100" if keeps_prepared_statements() else "0",
            DB_SESSION_PARAMETERS="false",
            REPLICA_MAX_LAG_MS=str(MAX_LAG_MS),
            FORWARDED_ALLOW_IPS="127.0.0.1",
            DB_POOL_MIN_SIZE="1",
            DB_POOL_MAX_SIZE="4",
            LOG_LEVEL="warning",
            ACCESS_LOG="false",
            PRINCIPAL_MAX_CONCURRENCY="100",
        )
        # The first user as docs/scaling.md says (`exec api-1 python -m api users create`):
        # with the instances' settings, through PgBouncer.
        created = subprocess.run(
            [
                sys.executable,
                "-m",
                "api",
                "users",
                "create",
                EMAIL,
                "--scopes",
                "items:read,items:write",
            ],
            input=USER_PASSWORD,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert created.returncode == 0, created.stdout + created.stderr
        instances = [free_port(), free_port()]
        for n, port in enumerate(instances, 1):
            processes[f"api-{n}"] = start_server(
                env, port, "--no-migrate", log=root / f"api-{n}.log"
            )
        haproxy_port = free_port()
        haproxy_log = root / "haproxy.log"
        with haproxy_log.open("wb") as out:
            processes["haproxy"] = subprocess.Popen(
                [HAPROXY, "-f", str(DEPLOY / "haproxy" / "haproxy.cfg")],
                env={
                    **os.environ,
                    "HAPROXY_BIND": f"127.0.0.1:{haproxy_port}",
                    "API_1": f"127.0.0.1:{instances[0]}",
                    "API_2": f"127.0.0.1:{instances[1]}",
                },
                stdout=out,
                stderr=subprocess.STDOUT,
            )

        def haproxy_answers() -> bool:
            with contextlib.suppress(httpx.TransportError):
                url = f"http://127.0.0.1:{haproxy_port}/readyz"
                return httpx.get(url, timeout=1).status_code == 200
            return False

        eventually(haproxy_answers, "HAProxy listening")
        login = httpx.post(
            f"http://127.0.0.1:{haproxy_port}/api/v1/auth/token",
            data={"grant_type": "password", "username": EMAIL, "password": USER_PASSWORD},
            timeout=10,
        )
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        yield Stack(primary, standby, instances, processes, haproxy_port, haproxy_log, headers)
    finally:
        for process in reversed(processes.values()):
            stop_server(process, timeout=10)
        standby.stop()
        primary.stop()
        shutil.rmtree(root, ignore_errors=True)


def _reads_on_the_primary(port: int) -> float:
    """An instance's reads sent to the primary (by token or by fallback), from its /metrics."""
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    found = re.findall(
        r'^db_replica_reads_total\{route="primary_(?:token|fallback)"\} (\S+)$',
        metrics,
        re.MULTILINE,
    )
    return sum(float(value) for value in found)


def _replica_ready(port: int) -> bool:
    report = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json()
    assert "replicas" in report, report
    return bool(report["replicas"][0]["state"] == "ready")


def _replay(stack: Stack, action: str) -> None:
    with stack.superuser(stack.standby) as connection:
        connection.execute(f"SELECT pg_wal_replay_{action}()")

        def done() -> bool:
            row = connection.execute("SELECT pg_get_wal_replay_pause_state()").fetchone()
            assert row is not None
            return (row[0] == "paused") == (action == "pause")

        eventually(done, f"the standby's replay {action}d")


def test_a_token_read_sees_the_write_on_either_instance_while_replay_is_paused(
    stack: Stack,
) -> None:
    for port in stack.instances:
        eventually(partial(_replica_ready, port), f"the standby ready at :{port}")
    with httpx.Client(base_url=stack.url, timeout=10) as http:
        assert http.get("/readyz").status_code == 200
        _replay(stack, "pause")
        try:
            created = http.post(
                "/api/v1/items", json={"name": "written behind HAProxy"}, headers=stack.headers
            )
            assert created.status_code == 201, created.text
            item_id, token = created.json()["id"], created.headers["consistency-token"]
            before = [_reads_on_the_primary(port) for port in stack.instances]
            with_token = {**stack.headers, "Consistency-Token": token}
            for _ in range(6):
                read = http.get(f"/api/v1/items/{item_id}", headers=with_token)
                assert read.status_code == 200, read.text
                assert read.json()["name"] == "written behind HAProxy"
            after = [_reads_on_the_primary(port) for port in stack.instances]
            # Both instances served some of them, each on the primary: the standby had not
            # replayed the write, and the token said so to whichever instance got the read.
            assert all(a > b for a, b in zip(after, before, strict=True)), (before, after)
            assert sum(after) - sum(before) == 6
            # Without the token, the paused standby (within the bound) answers: the item is
            # not there yet.
            stale = http.get(f"/api/v1/items/{item_id}", headers=stack.headers)
            assert stale.status_code == 404, stale.text
        finally:
            _replay(stack, "resume")

        def replayed() -> bool:
            read = http.get(f"/api/v1/items/{item_id}", headers=stack.headers)
            return read.status_code == 200

        eventually(replayed, "the write on the standby after resume")


def test_an_instance_that_stops_leaves_the_rotation_and_costs_no_error(stack: Stack) -> None:
    with httpx.Client(base_url=stack.url, timeout=10) as http:
        created = http.post("/api/v1/items", json={"name": "survivor"}, headers=stack.headers)
        assert created.status_code == 201, created.text
        item = f"/api/v1/items/{created.json()['id']}"
        stopping = stack.processes["api-2"]
        stopping.terminate()  # it drains (its /readyz answers 503), then exits
        deadline = time.monotonic() + PATIENCE_S
        answers: list[int] = []
        while "api/api2 is DOWN" not in stack.haproxy_log.read_text() or stopping.poll() is None:
            assert time.monotonic() < deadline, stack.haproxy_log.read_text()[-2000:]
            answers.append(http.get(item, headers=stack.headers).status_code)
            time.sleep(0.02)
        # Until HAProxy's checks took it out, a request sent to the stopping instance found its
        # port closed and went to the other one (retries, redispatch): no error at any time.
        assert answers
        assert set(answers) == {200}, answers
        for _ in range(10):
            assert http.get(item, headers=stack.headers).status_code == 200
        written = http.patch(item, json={"description": "after"}, headers=stack.headers)
        assert written.status_code == 200, written.text
        assert "api/api1 is DOWN" not in stack.haproxy_log.read_text()
