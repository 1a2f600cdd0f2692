"""Reads named SQL statements from the `sql/` tree."""

from __future__ import annotations

from pathlib import Path

SQL_ROOT = Path(__file__).resolve().parent.parent / "sql"


def load(name: str) -> str:
    """Return the text of `sql/<name>.sql`, e.g. `load("items/get_by_id")`."""
    return (SQL_ROOT / f"{name}.sql").read_text(encoding="utf-8")


def all_statement_names() -> list[str]:
    """Every statement name under `sql/`, sorted, e.g. `["items/create", ...]`."""
    return sorted(str(p.relative_to(SQL_ROOT).with_suffix("")) for p in SQL_ROOT.rglob("*.sql"))
