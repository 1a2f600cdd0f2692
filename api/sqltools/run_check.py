"""Runs `sql check` end to end: database, seed, plans, report, exit status."""

from __future__ import annotations

import argparse
import asyncio
import time

from api.sqltools import database
from api.sqltools.check import check_all, connect
from api.sqltools.report import render
from api.sqltools.seed import Volume, analyze, row_estimates, seed
from api.sqltools.statements import read_statements


async def run_check(server_url: str, args: argparse.Namespace) -> int:
    started = time.monotonic()
    temporary = args.database_url is None
    url = database.temporary_url(server_url) if temporary else args.database_url
    volume = Volume(items=args.items)
    try:
        # Creating and migrating are blocking (psycopg, yoyo): they run in a worker thread.
        await asyncio.to_thread(database.prepare, url)
        await _seed_when_needed(url, volume)
        statements, bad = read_statements()
        outcomes = await check_all(url, statements, bad, large_table_rows=args.large_table_rows)
    finally:
        if temporary and not args.keep:
            await asyncio.to_thread(database.drop, url)
    note = f"database {url.rsplit('/', 1)[-1]}" + (" (kept)" if temporary and args.keep else "")
    print(render(outcomes, f"sql check: {note}, {time.monotonic() - started:.1f} s"))
    return 1 if any(not o.ok for o in outcomes) else 0


async def _seed_when_needed(url: str, volume: Volume) -> None:
    connection = await connect(url, generic=False)
    try:
        await analyze(connection)
        if (await row_estimates(connection)).get("items", 0) < volume.items:
            await seed(connection, volume)
    finally:
        await connection.close()
