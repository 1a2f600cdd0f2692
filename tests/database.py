"""Where the test database comes from: TEST_DATABASE_URL, a testcontainers PostgreSQL where a
Docker engine answers, or the local server. Each test run gets a fresh database on it."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def docker_engine_answers(timeout: float = 1.0) -> bool:
    """A quick ping of the Docker socket; the client alone is not enough."""
    path = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not path.startswith("unix://") or not os.path.exists(path[7:]):
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(timeout)
            client.connect(path[7:])
            client.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
            return b"OK" in client.recv(1024)
    except OSError:
        return False


@contextmanager
def postgres_server() -> Iterator[str]:
    """A URL of a PostgreSQL server the tests may create databases on."""
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        yield given
    elif docker_engine_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16-alpine", driver=None) as container:
            yield container.get_connection_url()
    else:
        yield LOCAL_SERVER


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@contextmanager
def fresh_database(server_url: str, prefix: str = "items_test") -> Iterator[str]:
    """Create an empty database for this run and drop it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = with_database(server_url, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(server_url, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


async def wait_until_blocked(database_url: str, count: int = 1) -> None:
    """Until `count` statements of the app wait for a lock (one the test holds)."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as watcher:
        for _ in range(500):
            cursor = await watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND application_name = 'items-api' AND wait_event_type = 'Lock'"
            )
            row = await cursor.fetchone()
            if row is not None and row[0] >= count:
                return
            await asyncio.sleep(0.02)
    pytest.fail(f"{count} statements never waited for the lock")


async def wait_until_ended(database_url: str, like: str, *, seconds: float = 2.0) -> None:
    """Until no statement of the app whose text is LIKE `like` is active in PostgreSQL."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as watcher:
        for _ in range(int(seconds / 0.02)):
            cursor = await watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND application_name = 'items-api' AND state = 'active' AND query LIKE %s",
                (like,),
            )
            if await cursor.fetchone() == (0,):
                return
            await asyncio.sleep(0.02)
    pytest.fail(f"a statement LIKE {like!r} still runs in PostgreSQL")
