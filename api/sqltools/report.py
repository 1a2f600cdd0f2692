"""Renders the outcomes of `sql check` as text a DBA reads: one block per statement, a table."""

from __future__ import annotations

import textwrap

from api.sqltools.check import Outcome
from api.sqltools.plans import PlanFacts

_WIDTH = 100


def render(outcomes: list[Outcome], database_note: str) -> str:
    lines = [database_note, ""]
    for outcome in outcomes:
        lines.extend(_block(outcome))
    lines.extend(_table(outcomes))
    failed = sum(not o.ok for o in outcomes)
    verdict = "all OK" if not failed else f"{failed} FAILED"
    lines.append(f"{len(outcomes)} statements checked: {verdict}")
    return "\n".join(lines)


def _block(outcome: Outcome) -> list[str]:
    lines = [f"{outcome.name}  [{'OK' if outcome.ok else 'FAIL'}]"]
    for kind, plan in (("custom", outcome.custom), ("generic", outcome.generic)):
        if plan is not None:
            lines.extend(_wrapped(f"  {kind:<8}", f"{plan.summary}  (cost {plan.total_cost:.2f})"))
    for problem in outcome.problems:
        lines.extend(_wrapped("  FAIL    ", problem))
    lines.append("")
    return lines


def _wrapped(prefix: str, text: str) -> list[str]:
    return textwrap.wrap(
        text, _WIDTH, initial_indent=prefix, subsequent_indent=" " * len(prefix)
    ) or [prefix]


def _table(outcomes: list[Outcome]) -> list[str]:
    rows = [("statement", "index used", "custom cost", "generic cost", "result")]
    for o in outcomes:
        rows.append(
            (
                o.name,
                _indexes(o.custom, o.generic),
                _cost(o.custom),
                _cost(o.generic),
                "OK" if o.ok else "FAIL",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for number, row in enumerate(rows):
        out.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if number == 0:
            out.append("  ".join("-" * width for width in widths))
    out.append("")
    return out


def _indexes(custom: PlanFacts | None, generic: PlanFacts | None) -> str:
    used: set[str] = set()
    for plan in (custom, generic):
        if plan is not None:
            used |= plan.indexes
    return ", ".join(sorted(used)) or "-"


def _cost(plan: PlanFacts | None) -> str:
    return "-" if plan is None else f"{plan.total_cost:.2f}"
