"""`python -m api migrate up|down|status`."""

from __future__ import annotations

import argparse
from typing import Any
from urllib.parse import urlsplit

from api import logs
from api import migrate as migrations
from api.settings import Settings


def add_parser(commands: Any) -> None:
    mig = commands.add_parser("migrate", help="apply or roll back schema migrations")
    mig_commands = mig.add_subparsers(dest="action", required=True)
    mig_commands.add_parser("up", help="apply pending migrations (creates the database if missing)")
    down = mig_commands.add_parser("down", help="roll back the latest migration")
    down.add_argument("--all", action="store_true", help="roll back every migration")
    mig_commands.add_parser("status", help="list migrations and whether each is applied")


def run(settings: Settings, args: argparse.Namespace) -> int:
    return act(settings, args.action, getattr(args, "all", False))


def act(settings: Settings, action: str, everything: bool) -> int:
    """Apply, roll back or list the migrations (`action`: up, down or status)."""
    url = settings.database_url
    log = logs.get_logger("api.migrate")
    database = urlsplit(url).path.lstrip("/")  # never the URL: it may hold a password
    if action == "up":
        if migrations.ensure_database(url):
            log.info("database created", database=database)
        applied = migrations.up(url)
        if applied:
            log.info("migrations applied", database=database, migrations=applied)
        else:
            log.info("migrations up to date", database=database)
    elif action == "down":
        rolled_back = migrations.down(url, everything=everything)
        if rolled_back:
            log.info("migrations rolled back", database=database, migrations=rolled_back)
        else:
            log.info("nothing to roll back", database=database)
    else:
        for state in migrations.status(url):
            print(f"{'applied' if state.applied else 'pending'}  {state.id}")
    return 0
