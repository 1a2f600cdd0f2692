"""Schema migrations with yoyo: apply, roll back, report; and creating a missing database."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import psycopg
from psycopg import sql
from yoyo import get_backend, read_migrations

from queries.loader import load

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# yoyo's own bookkeeping tables, removed by `down --all` so that no table is left behind.
DATABASE_EXISTS = load("tooling/database_exists")
MIGRATIONS_RECORDED = load("tooling/migrations_recorded")
_YOYO_TABLES = ("_yoyo_log", "_yoyo_migration", "_yoyo_version", "yoyo_lock")


@dataclass(frozen=True)
class MigrationState:
    id: str
    applied: bool


def _yoyo_url(database_url: str) -> str:
    """yoyo picks its driver from the URL scheme; psycopg 3 is `postgresql+psycopg`."""
    scheme, rest = database_url.split("://", 1)
    return f"postgresql+psycopg://{rest}" if scheme in ("postgresql", "postgres") else database_url


async def _fetchval(database_url: str, statement: str, *args: object) -> object:
    connection = await asyncpg.connect(database_url, timeout=5)
    try:
        return await connection.fetchval(statement, *args)
    finally:
        await connection.close()


def ensure_database(database_url: str) -> bool:
    """Create the database named in the URL when it does not exist; True when it was created."""
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if not name:
        return False
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    if asyncio.run(_fetchval(maintenance, DATABASE_EXISTS, name)):
        return False
    # A database name cannot be a $n parameter: it is composed as a quoted identifier.
    with psycopg.connect(maintenance, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return True


def up(database_url: str) -> list[str]:
    """Apply every pending migration; return their ids (empty when up to date)."""
    backend = get_backend(_yoyo_url(database_url))
    migrations = read_migrations(str(MIGRATIONS_DIR))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return [m.id for m in pending]


def down(database_url: str, *, everything: bool = False) -> list[str]:
    """Roll back the latest applied migration, or all of them; return the ids rolled back."""
    backend = get_backend(_yoyo_url(database_url))
    migrations = read_migrations(str(MIGRATIONS_DIR))
    with backend.lock():
        applied = backend.to_rollback(migrations)
        chosen = applied if everything else applied[:1]
        backend.rollback_migrations(chosen)
        remaining = backend.to_rollback(migrations)
    if everything and not remaining:
        with psycopg.connect(database_url, autocommit=True) as conn:
            for table in _YOYO_TABLES:
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
    return [m.id for m in chosen]


def status(database_url: str) -> list[MigrationState]:
    """Each migration and whether it is applied; read-only, even on a database yoyo never saw."""
    migrations = read_migrations(str(MIGRATIONS_DIR))
    if not asyncio.run(_fetchval(database_url, MIGRATIONS_RECORDED)):
        return [MigrationState(m.id, False) for m in migrations]
    backend = get_backend(_yoyo_url(database_url))
    return [MigrationState(m.id, backend.is_applied(m)) for m in migrations]
