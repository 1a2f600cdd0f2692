"""The service behind PgBouncer in transaction mode: no state may hang on a server connection.

PgBouncer 1.18 (Debian 12) has no protocol-level prepared statements and refuses unknown startup
parameters, so the app runs with DB_STATEMENT_CACHE_SIZE=0 and DB_SESSION_PARAMETERS=false, as
docs/operations.md says. Two server connections serve many clients, so any state left on one (a
prepared statement, a setting, an open transaction) would surface here.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec
import pytest

from api.app import create_app
from api.settings import Settings
from tests.conftest import PASSWORD, Account
from tests.servers import free_port

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


@pytest.fixture(scope="module")
def bouncer_url(database_url: str) -> Iterator[str]:
    if not os.path.exists(PGBOUNCER):
        pytest.fail("pgbouncer is not installed: apt-get install pgbouncer (scripts/dev.sh does)")
    target = urlsplit(database_url)
    port = free_port()
    # Directly under /tmp: pytest's own temporary folders are closed to the postgres user.
    folder = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    (folder / "users.txt").write_text(f'"{target.username or "postgres"}" ""\n')
    (folder / "pgbouncer.ini").write_text(
        f"""[databases]
items = host={target.hostname} port={target.port or 5432} dbname={target.path.lstrip("/")}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder / "users.txt"}
pool_mode = transaction
default_pool_size = 2
max_client_conn = 100
logfile = {folder / "pgbouncer.log"}
"""
    )
    command = [PGBOUNCER, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
        for path in folder.iterdir():
            os.chown(path, user.pw_uid, user.pw_gid)
        command = ["runuser", "-u", "postgres", "--", *command]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        process.kill()
        pytest.fail(f"pgbouncer did not start: {process.communicate()[0].decode()}")
    user = target.username or "postgres"
    yield f"postgresql://{user}@127.0.0.1:{port}/items"
    process.terminate()
    process.wait(timeout=10)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
async def bounced(bouncer_url: str, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    behind = msgspec.structs.replace(
        settings,
        database_url=bouncer_url,
        db_statement_cache_size=0,
        db_session_parameters=False,
        db_pool_max_size=10,
    )
    app: Any = create_app(behind)
    await app.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bounced") as client:
            yield client
    finally:
        await app.stop()


async def test_every_kind_of_statement_works_through_pgbouncer(
    bounced: httpx.AsyncClient, alice: Account
) -> None:
    token = await bounced.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": alice.email, "password": PASSWORD},
    )
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    created = await bounced.post(
        "/api/v1/items", json={"name": "Bounced", "tags": ["pool"]}, headers=headers
    )
    assert created.status_code == 201, created.text
    item_url = created.headers["location"]
    batch = [{"name": f"b{i}", "tags": ["pool"], "metadata": {"i": i}} for i in range(50)]
    written = await bounced.post("/api/v1/items/batch", json=batch, headers=headers)
    assert written.status_code == 200, written.text

    async def read(n: int) -> int:
        urls = [item_url, "/api/v1/items?tags=pool&limit=5", "/api/v1/items?q=bounced"]
        response = await bounced.get(urls[n % 3], headers=headers)
        return response.status_code

    # Fifty clients at once over two server connections.
    assert set(await asyncio.gather(*(read(n) for n in range(50)))) == {200}
    patched = await bounced.patch(item_url, json={"tags": ["moved"]}, headers=headers)
    assert patched.json()["tags"] == ["moved"]
    key = await bounced.post("/api/v1/api-keys", json={"name": "bouncer"}, headers=headers)
    assert (
        await bounced.get(item_url, headers={"X-API-Key": key.json()["key"]})
    ).status_code == 200
    assert (await bounced.delete(item_url, headers=headers)).status_code == 204
    assert (await bounced.get("/readyz")).status_code == 200


async def test_a_refused_batch_rolls_back_behind_pgbouncer(
    bounced: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    theirs = await bounced.post("/api/v1/items", json={"name": "Bob's"}, headers=bob.headers)
    batch = [{"name": "new"}, {"id": theirs.json()["id"], "name": "taken"}]
    refused = await bounced.post("/api/v1/items/batch", json=batch, headers=alice.headers)
    assert refused.status_code == 403
    # The transaction was rolled back on its server connection; the next statements see it clean.
    listed = await bounced.get("/api/v1/items?limit=200", headers=alice.headers)
    assert [item["name"] for item in listed.json()] == ["Bob's"]


async def test_readiness_stays_ready_behind_pgbouncer(
    bounced: httpx.AsyncClient, alice: Account
) -> None:
    """/readyz pings over a connection of its own: without a statement cache there (as in the
    pool), its ping prepared on one server connection and then ran on another, which had not
    got it, and an instance behind PgBouncer 1.18 went in and out of a load balancer."""
    listed = "/api/v1/items?limit=5"

    async def ready_under_traffic() -> int:
        # Other transactions hold the server connection the last ping ran on, now and then.
        replies = await asyncio.gather(
            bounced.get("/readyz"), *(bounced.get(listed, headers=alice.headers) for _ in range(3))
        )
        assert {reply.status_code for reply in replies[1:]} == {200}
        return replies[0].status_code

    assert [await ready_under_traffic() for _ in range(30)] == [200] * 30
