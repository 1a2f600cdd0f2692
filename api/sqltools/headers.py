"""Parses the header comment every `sql/` file starts with (the convention is in sql/README.md).

```
-- Purpose: what it does (may continue on lines indented with "--   ")
-- Parameters:
--   $1 uuid: the item's id
-- Index: items_pkey            (comma-separated when several, "none" when none)
-- Rows: zero or one
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FIELD = re.compile(r"^-- (Purpose|Parameters|Index|Rows):(.*)$")
_CONTINUATION = re.compile(r"^--   (\S.*)$")
_PARAMETER = re.compile(r"^--   \$(\d+) ([a-z][a-z0-9_ ]*(?:\[\])?): (\S.*)$")
# "name", "name (note)", or alternatives "a | b (note)": the plan reads one of them.
_INDEX = re.compile(r"^([a-z_][a-z0-9_]*(?: \| [a-z_][a-z0-9_]*)*)(?: \((.+)\))?$")
_FIELDS = ("Purpose", "Parameters", "Index", "Rows")

# Notes after an index name that tell the checker how the index is used; see sql/README.md.
UNIQUENESS = "uniqueness"
CONFLICT_TARGET = "conflict target"


class HeaderError(ValueError):
    """The header does not follow the convention; the message says where."""


@dataclass(frozen=True)
class Parameter:
    number: int
    type: str
    description: str


@dataclass(frozen=True)
class IndexRef:
    name: str
    note: str = ""
    # Other indexes that may serve instead, chosen per execution by the planner ("a | b").
    alternatives: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.alternatives)

    @property
    def enforces_uniqueness(self) -> bool:
        """True for an index that only enforces a unique constraint: no plan node reads it."""
        return self.note.startswith(UNIQUENESS)


@dataclass(frozen=True)
class Header:
    purpose: str
    parameters: tuple[Parameter, ...]
    indexes: tuple[IndexRef, ...]  # empty for "none"
    index_note: str  # the note of "none (...)", else ""
    rows: str


def parse_header(text: str) -> Header:
    """The header of one SQL file's text; HeaderError when it does not follow the convention."""
    values: dict[str, list[str]] = {}
    current: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.startswith("--"):
            break
        field = _FIELD.match(line)
        if field:
            current = field.group(1)
            if current in values:
                raise HeaderError(f"line {number}: {current} appears twice")
            if list(values) != list(_FIELDS[: len(values)]) or current != _FIELDS[len(values)]:
                raise HeaderError(f"line {number}: expected the fields in the order {_FIELDS}")
            values[current] = [field.group(2).strip()]
        elif current is not None and line.startswith("--   "):
            values[current].append(line)
        elif current == "Rows" and line.startswith("-- sqlfluff:"):
            continue  # a directive for the linter after the header, e.g. ignore:parsing
        else:
            raise HeaderError(f"line {number}: not part of the header: {line!r}")
    missing = [name for name in _FIELDS if name not in values]
    if missing:
        raise HeaderError(f"missing header fields: {', '.join(missing)}")
    indexes, index_note = _indexes(values["Index"])
    return Header(
        purpose=_prose(values["Purpose"], "Purpose"),
        parameters=_parameters(values["Parameters"]),
        indexes=indexes,
        index_note=index_note,
        rows=_prose(values["Rows"], "Rows"),
    )


def _prose(lines: list[str], field: str) -> str:
    words = [lines[0]]
    for line in lines[1:]:
        match = _CONTINUATION.match(line)
        if match is None:
            raise HeaderError(f"{field}: a continuation line is indented with '--   ': {line!r}")
        words.append(match.group(1))
    text = " ".join(w for w in words if w)
    if not text:
        raise HeaderError(f"{field} is empty")
    return text


def _parameters(lines: list[str]) -> tuple[Parameter, ...]:
    if lines[0] == "none":
        if len(lines) > 1:
            raise HeaderError("Parameters: none, yet parameters are listed")
        return ()
    if lines[0]:
        raise HeaderError("Parameters: write 'none', or list them one per line below")
    parameters: list[Parameter] = []
    for line in lines[1:]:
        match = _PARAMETER.match(line)
        if match is None:
            raise HeaderError(f"Parameters: expected '--   $n type: description', got {line!r}")
        number, type_, description = match.groups()
        if int(number) != len(parameters) + 1:
            raise HeaderError(
                f"Parameters: ${number} is out of order; expected ${len(parameters) + 1}"
            )
        parameters.append(Parameter(int(number), type_, description))
    if not parameters:
        raise HeaderError("Parameters: write 'none', or list them one per line below")
    return tuple(parameters)


def _indexes(lines: list[str]) -> tuple[tuple[IndexRef, ...], str]:
    text = _prose(lines, "Index")
    if text == "none" or text.startswith("none ("):
        return (), text.removeprefix("none").strip().removeprefix("(").removesuffix(")")
    refs: list[IndexRef] = []
    for item in _split_outside_parentheses(text):
        match = _INDEX.match(item)
        if match is None:
            raise HeaderError(f"Index: expected 'name' or 'name (note)', got {item!r}")
        first, *others = match.group(1).split(" | ")
        refs.append(IndexRef(first, match.group(2) or "", tuple(others)))
    return tuple(refs), ""


def _split_outside_parentheses(text: str) -> list[str]:
    items, depth, start = [], 0, 0
    for position, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            items.append(text[start:position].strip())
            start = position + 1
    items.append(text[start:].strip())
    return items
