"""`python -m api`: the parser, and the errors every command answers alike. One module per
command: serve, migrate, users, seed, and sql (api/sqltools/cli.py)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, Protocol

import asyncpg
import psycopg

from api import logs
from api.cli import migrate, seed, serve, users
from api.cli.database import DatabaseNotReady, redact, redact_url
from api.settings import Settings, SettingsError, load_settings
from api.sqltools import cli as sql_cli


class Command(Protocol):
    """A command's module: it adds its parser to `python -m api`'s, and runs when chosen."""

    def add_parser(self, commands: Any) -> None: ...

    def run(self, settings: Settings, args: argparse.Namespace) -> int: ...


# In the order `python -m api --help` lists them.
COMMANDS: dict[str, Command] = {
    "serve": serve,
    "migrate": migrate,
    "users": users,
    "seed": seed,
    "sql": sql_cli,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m api", description="The items API")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS.values():
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command in ("serve", "migrate"):
        # Their progress is log lines: JSON, or colored text on a terminal in development.
        logs.configure(settings.log_level, console=logs.wants_console(settings.environment))
        logs.route_stdlib_logging(settings.log_level)
    url = settings.database_url
    try:
        return COMMANDS[args.command].run(settings, args)
    except DatabaseNotReady as exc:
        print(redact(str(exc), url), file=sys.stderr)
        return 1
    except (psycopg.OperationalError, OSError) as exc:
        print(redact(_no_database_message(settings, exc), url), file=sys.stderr)
        return 1
    except asyncpg.PostgresError as exc:
        # e.g. the database does not exist yet, or is not migrated: a message, not a traceback.
        print(
            redact(f"the database refused the command: {exc}", url) + "\n"
            "Is it created and migrated? Run: python -m api migrate up",
            file=sys.stderr,
        )
        return 1


def _no_database_message(settings: Settings, exc: Exception) -> str:
    return (
        f"cannot reach PostgreSQL at {redact_url(settings.database_url)}: {exc}\n"
        "Set DATABASE_URL to a reachable server, or install and start one locally:\n"
        "  sudo apt-get install -y postgresql && sudo service postgresql start"
    )
