"""`python -m api seed`: demo items, loaded with COPY."""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import time
from typing import Any

import asyncpg

from api.contracts.users import normalize_email
from api.settings import Settings
from queries import users


def add_parser(commands: Any) -> None:
    demo = commands.add_parser(
        "seed",
        help="fill the database with realistic demo items (COPY), to try search on",
        description="Add demo items: the benchmark's names, tags and metadata, created over the "
        "past year, loaded with COPY; then ANALYZE. A progress bar on a terminal.",
    )
    demo.add_argument("--items", type=int, default=10_000, help="how many (default 10000)")
    demo.add_argument(
        "--owner",
        metavar="EMAIL",
        help="the user who owns them (default: none; every user with items:read reads them, "
        "an admin changes them)",
    )
    demo.add_argument(
        "--seed",
        type=int,
        help="random seed, for the same items again (default: new ones on every run)",
    )


def run(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_seed(settings, args))


async def _seed(settings: Settings, args: argparse.Namespace) -> int:
    if args.items < 1:
        print("--items must be at least 1", file=sys.stderr)
        return 2
    from tqdm import tqdm

    from api import demo
    from api.sqltools.statements import tooling

    connection = await asyncpg.connect(settings.database_url, timeout=10)
    try:
        owner = None
        if args.owner:
            owner = await users.get_id_by_email(connection, normalize_email(args.owner))
            if owner is None:
                print(f"no user with email {args.owner}", file=sys.stderr)
                return 1
        rng = random.Random(args.seed)  # noqa: S311 (demo data, not secrets)
        begun = time.perf_counter()
        # A pseudo-terminal may report a size of 0, where tqdm draws nothing: 80 x 24 then.
        size = shutil.get_terminal_size((80, 24))
        with tqdm(
            total=args.items,
            unit=" items",
            file=sys.stderr,
            disable=None,  # no bar when stderr is not a terminal
            ncols=size.columns,
            nrows=size.lines,
        ) as bar:
            written = await demo.copy_items(
                connection, demo.item_records(rng, args.items, owner), bar.update
            )
        await connection.execute(tooling("analyze"))
    finally:
        await connection.close()
    seconds = time.perf_counter() - begun
    print(f"seeded {written:,} items in {seconds:.1f} s ({written / seconds:,.0f} items/s)")
    return 0
