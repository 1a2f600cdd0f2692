"""Reads named SQL statements from the `sql/` tree."""

from __future__ import annotations

import re
from pathlib import Path

SQL_ROOT = Path(__file__).resolve().parent.parent / "sql"
# Statements that only read: safe to run again on a fresh connection when the first one was lost
# before the rows came back (queries.fair_pool.FairPool). Filled by load().
READ_ONLY: set[str] = set()
_COMMENT = re.compile(r"--[^\n]*")
_WORD = re.compile(r"[A-Za-z_]+")
_WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE", "TRUNCATE", "COPY", "CALL", "SET"})
# Functions a SELECT may call that change something: sequences, settings (set_config, which a
# second run on a fresh connection would make outside the transaction it was meant for), and
# advisory locks (any pg_*advisory* function), which a second run would take twice.
_SIDE_EFFECTS = frozenset({"NEXTVAL", "SETVAL", "SET_CONFIG"})


def is_read_only(statement: str) -> bool:
    """True for a SELECT (or WITH … SELECT, or the EXPLAIN of one without ANALYZE, which only
    plans it) with no data-changing word anywhere in it, FOR UPDATE included: a conservative
    reading that may call a read a write, never the reverse."""
    words = [word.upper() for word in _WORD.findall(_COMMENT.sub(" ", statement))]
    if words[:1] == ["EXPLAIN"] and "ANALYZE" not in words:
        words = [word for word in words[1:] if word not in ("FORMAT", "JSON")]
    return (
        bool(words)
        and words[0] in ("SELECT", "WITH")
        and _WRITES.isdisjoint(words)
        and not any(word in _SIDE_EFFECTS or "ADVISORY" in word for word in words)
    )


# Statement text -> its name, for every statement loaded: how statement timings find the sql/
# file they belong to (a dict lookup of a string whose hash is cached).
STATEMENT_NAMES: dict[str, str] = {}


def load(name: str) -> str:
    """Return the text of `sql/<name>.sql`, e.g. `load("items/get_by_id")`."""
    if not SQL_ROOT.is_dir():
        # A wheel installed into site-packages carries api/ and queries/ only.
        raise RuntimeError(
            f"no SQL statements at {SQL_ROOT}: run the service from a checkout of the repository"
            " (`pip install -e .`, as scripts/dev.sh does) or beside its sql/ and migrations/"
            " folders (as the Dockerfile does)"
        )
    statement = (SQL_ROOT / f"{name}.sql").read_text(encoding="utf-8")
    STATEMENT_NAMES[statement] = name
    if is_read_only(statement):
        READ_ONLY.add(statement)
    return statement


def all_statement_names() -> list[str]:
    """Every statement name under `sql/`, sorted, e.g. `["items/create", ...]`."""
    return sorted(str(p.relative_to(SQL_ROOT).with_suffix("")) for p in SQL_ROOT.rglob("*.sql"))
