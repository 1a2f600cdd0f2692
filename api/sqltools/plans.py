"""Reads an `EXPLAIN (FORMAT JSON)` plan: a one-line summary and the facts the check judges."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec


@dataclass(frozen=True)
class PlanFacts:
    summary: str  # e.g. "Limit → Index Scan using items_created_at_id on items"
    indexes: frozenset[str]  # indexes read by a node, or named as ON CONFLICT arbiters
    seq_scanned: frozenset[str]  # relations read by a Seq Scan
    total_cost: float


def read_plan(explain_json: str) -> PlanFacts:
    top = msgspec.json.decode(explain_json)[0]["Plan"]
    indexes: set[str] = set()
    seq_scanned: set[str] = set()
    for node in _walk(top):
        if "Index Name" in node:
            indexes.add(node["Index Name"])
        indexes.update(node.get("Conflict Arbiter Indexes", []))
        if node["Node Type"] == "Seq Scan":
            seq_scanned.add(node["Relation Name"])
    return PlanFacts(_summary(top), frozenset(indexes), frozenset(seq_scanned), top["Total Cost"])


def _walk(node: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [node]
    for child in node.get("Plans", []):
        nodes.extend(_walk(child))
    return nodes


def _summary(node: dict[str, Any]) -> str:
    children = [_child(child) for child in node.get("Plans", [])]
    label = _label(node)
    if not children:
        return label
    if len(children) == 1:
        return f"{label} → {children[0]}"
    return f"{label} → ({' | '.join(children)})"


def _child(node: dict[str, Any]) -> str:
    # A CTE or sub-plan is shown by name, so "CTE Scan" reads against what fills it.
    name = node.get("Subplan Name")
    return f"[{name}: {_summary(node)}]" if name else _summary(node)


def _label(node: dict[str, Any]) -> str:
    kind = node["Node Type"]
    relation = node.get("Relation Name")
    if kind == "ModifyTable":
        arbiters = node.get("Conflict Arbiter Indexes")
        conflict = f" (on conflict: {', '.join(arbiters)})" if arbiters else ""
        return f"{node['Operation']} on {relation}{conflict}"
    if kind in ("Index Scan", "Index Only Scan"):
        backward = " Backward" if node.get("Scan Direction") == "Backward" else ""
        return f"{kind}{backward} using {node['Index Name']} on {relation}"
    if kind == "Bitmap Index Scan":
        return f"{kind} on {node['Index Name']}"
    if relation is not None:
        return f"{kind} on {relation}"
    if kind == "Function Scan":
        return f"{kind} on {node.get('Function Name', '?')}"
    return str(kind)
