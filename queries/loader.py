"""Reads named SQL statements from the `sql/` tree."""

from __future__ import annotations

from pathlib import Path

SQL_ROOT = Path(__file__).resolve().parent.parent / "sql"

# Statement text -> its name, for every statement loaded: how statement timings find the sql/
# file they belong to (a dict lookup of a string whose hash is cached).
STATEMENT_NAMES: dict[str, str] = {}


def load(name: str) -> str:
    """Return the text of `sql/<name>.sql`, e.g. `load("items/get_by_id")`."""
    text = (SQL_ROOT / f"{name}.sql").read_text(encoding="utf-8")
    STATEMENT_NAMES[text] = name
    return text


def all_statement_names() -> list[str]:
    """Every statement name under `sql/`, sorted, e.g. `["items/create", ...]`."""
    return sorted(str(p.relative_to(SQL_ROOT).with_suffix("")) for p in SQL_ROOT.rglob("*.sql"))
