"""A throw-away database for `sql check`: created, migrated, and dropped afterwards."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from api import migrate

PREFIX = "sqlcheck_"


def temporary_url(base_url: str) -> str:
    """The base URL with its database replaced by a fresh `sqlcheck_<random>` name."""
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path=f"/{PREFIX}{secrets.token_hex(4)}"))


def prepare(url: str) -> None:
    """Create the database when missing and apply every migration."""
    migrate.ensure_database(url)
    migrate.up(url)


def drop(url: str) -> None:
    """Drop a database this tool created. Only `sqlcheck_` names, so nothing else can go."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name.startswith(PREFIX):
        raise ValueError(f"refusing to drop {name!r}: not a {PREFIX} database")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    # DDL on a database name cannot take a $n parameter, so the name is composed as an
    # identifier, the way api/migrate.py creates it.
    with psycopg.connect(maintenance, autocommit=True, connect_timeout=5) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
