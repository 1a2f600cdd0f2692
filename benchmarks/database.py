"""The benchmark database: made fresh and seeded for a run, vacuumed and quiet between runs,
dropped at the end."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg

from api import settings
from api.sqltools.statements import tooling
from benchmarks import seed
from benchmarks.common import EMAIL, PASSWORD, ROOT, SECRET_KEY, log
from queries.pool import session_settings

# Connections the runners keep free for their own: the quiet checks, vacuums, the version.
SPARE_CONNECTIONS = 5


async def recreate_database(pg_url: str, name: str) -> None:
    connection = await asyncpg.connect(f"{pg_url}/postgres")
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def drop_database(pg_url: str, name: str) -> None:
    connection = await asyncpg.connect(f"{pg_url}/postgres")
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def prepare_database(
    pg_url: str, name: str, items: int, rng_seed: int, data: Path, batch_bodies: int = 32
) -> tuple[str, list[uuid.UUID]]:
    """A fresh database `name`: migrated, the benchmark user, `items` seeded items, and the
    sample files in `data` (`batch_bodies` bulk bodies). Returns the owner's id and the items'
    ids."""
    dsn = f"{pg_url}/{name}"
    log(f"fresh database {name}; migrations")
    asyncio.run(recreate_database(pg_url, name))
    run_api(["migrate", "up"], dsn)
    made = run_api(
        ["users", "create", EMAIL, "--scopes", "items:read,items:write,admin"],
        dsn,
        stdin=PASSWORD + "\n",
    )
    owner_id = re.search(r"\(([0-9a-f-]{36})\)", made)
    assert owner_id is not None, made
    log(f"seeding {items:,} items with COPY")
    begun = time.perf_counter()
    ids = seed.run_seed(dsn, uuid.UUID(owner_id[1]), items, rng_seed)
    log(f"seeded in {time.perf_counter() - begun:.1f}s")
    seed.write_samples(data, ids, rng_seed, batch_bodies=batch_bodies)
    return owner_id[1], ids


def run_api(args: list[str], dsn: str, stdin: str | None = None) -> str:
    """`python -m api ARGS` on the database `dsn`; its standard output."""
    env = {**os.environ, "DATABASE_URL": dsn, "SECRET_KEY": SECRET_KEY, "LOG_LEVEL": "warning"}
    done = subprocess.run(
        [sys.executable, "-m", "api", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"python -m api {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


async def vacuum(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(tooling("bench_vacuum"))
        await connection.execute(tooling("bench_checkpoint"))
    finally:
        await connection.close()


async def quiesce(dsn: str, limit_seconds: float = 60.0) -> float:
    """Wait until no statement runs in the benchmark database: a server may still be working
    through requests wrk sent before it stopped, and that tail must not overlap the next run."""
    connection = await asyncpg.connect(dsn)
    begun = time.monotonic()
    try:
        while time.monotonic() - begun < limit_seconds:
            busy = await connection.fetchval(tooling("bench_busy_backends"))
            if busy == 0:
                break
            await asyncio.sleep(0.1)
    finally:
        await connection.close()
    return time.monotonic() - begun


async def postgres_version(dsn: str) -> str:
    connection = await asyncpg.connect(dsn)
    try:
        return str(await connection.fetchval(tooling("server_version"))).split()[0]
    finally:
        await connection.close()


async def connection_room(dsn: str) -> int:
    """How many more connections the PostgreSQL server of `dsn` accepts now."""
    connection = await asyncpg.connect(dsn)
    try:
        return int(await connection.fetchval(tooling("bench_connection_room"))) + 1  # this one
    finally:
        await connection.close()


async def set_session_defaults(pg_url: str, name: str) -> None:
    """Give every session of database `name` the settings the service sets at connect time
    (queries.pool.session_settings), for a service behind PgBouncer, which sends none
    (docs/operations.md does this on the role; here it stays with the run's own database)."""
    timeout_ms = settings.default("db_statement_timeout_ms")
    connection = await asyncpg.connect(f"{pg_url}/{name}")
    try:
        for setting, value in session_settings(timeout_ms, session_parameters=True).items():
            if setting != "application_name":
                await connection.execute(f"ALTER DATABASE \"{name}\" SET {setting} = '{value}'")
    finally:
        await connection.close()
