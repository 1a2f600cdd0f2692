"""The `sql` sub-command of `python -m api`: check, catalog, stats."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from api.settings import Settings
from api.sqltools.check import LARGE_TABLE_ROWS
from api.sqltools.seed import Volume


def add_parser(commands: Any) -> None:
    """Register `sql` and its actions on the sub-parsers of `python -m api`."""
    parser = commands.add_parser("sql", help="DBA tooling over sql/: plans, catalog, statistics")
    actions = parser.add_subparsers(dest="action", required=True)

    check = actions.add_parser(
        "check",
        help="prepare and EXPLAIN every statement on a seeded database; fail on a Seq Scan of a "
        "large table or a plan that misses the header's index",
    )
    check.add_argument(
        "--database-url",
        help="use this database (migrated, and seeded when it has fewer items than --items) "
        "instead of a temporary sqlcheck_<random> database on the DATABASE_URL server",
    )
    check.add_argument("--items", type=int, default=Volume.items, help="items to seed")
    check.add_argument(
        "--large-table-rows",
        type=int,
        default=LARGE_TABLE_ROWS,
        help="a table with at least this many estimated rows must not be seq-scanned",
    )
    check.add_argument("--keep", action="store_true", help="keep the temporary database")

    catalog = actions.add_parser("catalog", help="write sql/CATALOG.md from the SQL headers")
    catalog.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 when sql/CATALOG.md is stale"
    )

    stats = actions.add_parser(
        "stats", help="top statements by total time from pg_stat_statements, with their sql/ files"
    )
    stats.add_argument("--limit", type=int, default=20, help="how many statements (default 20)")
    stats.add_argument("--reset", action="store_true", help="reset the statistics, print nothing")
    stats.add_argument(
        "--create-extension",
        action="store_true",
        help="CREATE EXTENSION pg_stat_statements when it is loaded but not created",
    )


def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "check":
        from api.sqltools.run_check import run_check

        return asyncio.run(run_check(settings.database_url, args))
    if args.action == "catalog":
        from api.sqltools.catalog import run_catalog

        return run_catalog(check_only=args.check)
    from api.sqltools.stats import run_stats

    return asyncio.run(run_stats(settings.database_url, args))
