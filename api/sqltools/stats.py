"""`python -m api sql stats`: the top statements by total time, named by their `sql/` file.

pg_stat_statements keeps the text a statement first arrived with, its constants replaced by $n.
Both sides are reduced to the same shape (no comments, one space, every literal and parameter a
`?`) so that each entry can be matched back to the file it came from.
"""

from __future__ import annotations

import argparse
import re
import sys

import asyncpg

from api.sqltools.statements import read_statements, tooling

_TOKEN = re.compile(
    r"""
    (?P<comment>--[^\n]*|/\*.*?\*/)
    | (?P<literal>'(?:[^']|'')*'|\$\d+|\b\d+(?:\.\d+)?\b)
    | (?P<space>\s+)
    """,
    re.VERBOSE | re.DOTALL,
)

HOW_TO_ENABLE = """\
pg_stat_statements is not available in this database. To enable it:
  1. in postgresql.conf: shared_preload_libraries = 'pg_stat_statements'
     (or: ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements';)
  2. restart PostgreSQL (e.g. pg_ctlcluster 15 main restart)
  3. in the service's database: CREATE EXTENSION pg_stat_statements;
     (or run this command with --create-extension)"""


def shape(text: str) -> str:
    """A statement's text without comments, whitespace differences or literal values."""

    def replace(match: re.Match[str]) -> str:
        if match.group("comment") is not None:
            return " "
        if match.group("literal") is not None:
            return "?"
        return " "

    return " ".join(_TOKEN.sub(replace, text).split()).rstrip(";").strip()


async def run_stats(url: str, args: argparse.Namespace) -> int:
    connection = await asyncpg.connect(url)
    try:
        status = await connection.fetchrow(tooling("stats_status"))
        assert status is not None
        if status["loaded"] and not status["created"] and args.create_extension:
            await connection.execute(tooling("stats_create_extension"))
        elif not (status["loaded"] and status["created"]):
            state = f"library loaded: {status['loaded']}, extension created: {status['created']}"
            print(f"{state}\n{HOW_TO_ENABLE}", file=sys.stderr)
            return 1
        if args.reset:
            await connection.execute(tooling("stats_reset"))
            print("pg_stat_statements reset")
            return 0
        rows = await connection.fetch(tooling("stats_top"), args.limit)
    finally:
        await connection.close()
    print(_table(rows))
    return 0


def _table(rows: list[asyncpg.Record]) -> str:
    statements, _ = read_statements()
    by_shape = {shape(s.text): s.path for s in statements}
    header = ("sql file", "calls", "total ms", "mean ms", "rows", "blocks")
    table = [header]
    for row in rows:
        path = by_shape.get(shape(row["query"])) or "(not in sql/) " + _excerpt(row["query"])
        table.append(
            (
                path,
                f"{row['calls']:,}",
                f"{row['total_ms']:,.1f}",
                f"{row['mean_ms']:.3f}",
                f"{row['rows']:,}",
                f"{row['blocks']:,}",
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = []
    for number, r in enumerate(table):
        cells = [r[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells))
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _excerpt(query: str) -> str:
    text = " ".join(shape(query).split())
    return text if len(text) <= 60 else text[:57] + "..."
