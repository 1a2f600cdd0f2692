"""An item's input beyond what its Struct's types check: one Unicode form, tag and name rules,
and metadata that PostgreSQL's jsonb stores exactly as the client wrote it.

- Text (names, descriptions, tags, the `q`, `tags` and `tags_all` parameters) is normalized to
  NFC (Unicode Standard Annex #15), so that text that renders the same matches the same.
- Lengths count the characters of that NFC form: a name or tag sent in NFD (macOS) counts what it
  will store.
- A tag is 1 to 64 characters, neither blank nor beginning or ending with whitespace (Unicode's
  White_Space property) or an invisible character (its Default_Ignorable_Code_Point, such as
  U+200B), without comma or NUL; writes and filters apply the same rule. An item keeps each tag
  once, in first-seen order. Tags are case-sensitive.
- A name is not blank: not only whitespace and invisible characters.
- Metadata stays the client's JSON text (`msgspec.Raw`): its numbers are never converted to
  floats, and jsonb keeps them as PostgreSQL's `numeric` does (`1.10` stays `1.10`). It must be an
  object nested at most MAX_METADATA_DEPTH levels (the object itself is level 1), hold no NUL
  (`\\u0000`, which jsonb refuses) and only numbers within `numeric`'s range.

Every refusal is a 422 problem naming the field (`$.tags[2]`, `$[4].metadata`, `query.tags`).
"""

from __future__ import annotations

import asyncio
import json
import re
import unicodedata
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from api.problems import ProblemError, invalid
from queries.items import (
    BLANK,
    DESCRIPTION_LENGTH,
    NAME_LENGTH,
    TAG_LENGTH,
    ItemPatch,
    ItemWrite,
)

MAX_METADATA_DEPTH = 32
MAX_TAGS = 64
# PostgreSQL's numeric: at most 131,072 digits before the decimal point, 16,383 after it.
_NUMERIC_INTEGER_DIGITS = 131_072
_NUMERIC_SCALE = 16_383
# Metadata text that passes these byte checks needs no decoding: at most 32 brackets cannot nest
# deeper than 32 levels, NUL can only be written as \u0000, and a number beyond numeric's range
# needs an exponent or more than 16,383 digits.
_EXPONENT = re.compile(rb"[0-9][eE]")
_SHORT_TEXT = 16_000
_KINDS = {
    ord("["): "an array",
    ord('"'): "a string",
    ord("t"): "a boolean",
    ord("f"): "a boolean",
    ord("n"): "null",
}
# PostgreSQL refuses a numeric whose exponent reaches INT_MAX / 2, even a zero's (numeric.c).
_NUMERIC_EXPONENT_LIMIT = 2**31 // 2 - 1
# Bodies larger than this are checked in a worker thread. The exact check of metadata (json.loads
# with Decimal, then a walk) costs about 0.3 s of CPU per MB: on the event loop, 16 concurrent
# bodies of 2 MB held every other request, /healthz included, for 5 s.
OFF_LOOP_BYTES = 64 * 1024
# msgspec refuses nesting past about 900 levels (Python's recursion limit); no value reaches this
# depth legitimately, so the first container there lies on the offending path.
_DECODER_SAFE_DEPTH = 100
_BLANK_CLASS = "[" + re.escape(BLANK) + "]"
_TAG_EDGE = re.compile(f"(?:^|\x00){_BLANK_CLASS}|{_BLANK_CLASS}(?:\x00|$)")
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}:,]')


def nfc(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def tag_problem(tag: str) -> str | None:
    """Why `tag` (already NFC) is not a tag, or None."""
    if not tag.strip(BLANK):
        return "a tag must not be blank"
    if tag[0] in BLANK or tag[-1] in BLANK:
        return "a tag must not begin or end with whitespace or an invisible character"
    if len(tag) > TAG_LENGTH:
        return f"a tag has at most {TAG_LENGTH} characters"
    if "," in tag or "\x00" in tag:
        return "a tag must not contain a comma or NUL"
    return None


def clean_tags(tags: list[str], field: str) -> list[str]:
    """The tags in NFC, each once in first-seen order; 422 naming `field[i]` for a bad one."""
    if not tags:
        return tags
    joined = "\x00".join(tags)  # a tag holds no NUL (the Struct's pattern), so one scan checks all
    if not joined.isascii():
        tags = [nfc(tag) for tag in tags]
        joined = "\x00".join(tags)
    if any(len(tag) > TAG_LENGTH for tag in tags):  # decoding admitted up to 4x, for NFD
        _refuse_tag(tags, field)
    if _TAG_EDGE.search(joined) is not None:
        _refuse_tag(tags, field)
    return tags if len(set(tags)) == len(tags) else list(dict.fromkeys(tags))


def _refuse_tag(tags: list[str], field: str) -> None:
    for index, tag in enumerate(tags):
        problem = tag_problem(tag)
        if problem is not None:
            raise invalid(f"{field}[{index}]", problem)


def _clean_name(name: str, field: str) -> str:
    name = nfc(name)
    if not name.strip(BLANK):
        raise invalid(field, "must not be blank")
    if len(name) > NAME_LENGTH:  # decoding admitted up to 4x, for NFD
        raise invalid(field, f"must have at most {NAME_LENGTH} characters")
    return name


def _clean_description(description: str, field: str) -> str:
    description = nfc(description)
    if len(description) > DESCRIPTION_LENGTH:
        raise invalid(field, f"must have at most {DESCRIPTION_LENGTH} characters")
    return description


def clean_write(item: ItemWrite, at: str = "$") -> None:
    """Normalize a decoded create, replace or batch item in place, or raise a 422 naming the
    field under `at` (`$`, or `$[i]` in a batch). About 2 µs for a typical item."""
    name = item.name
    if len(name) > NAME_LENGTH or not name.isascii():
        item.name = _clean_name(name, at + ".name")
    description = item.description
    if description is not None and (
        len(description) > DESCRIPTION_LENGTH or not description.isascii()
    ):
        item.description = _clean_description(description, at + ".description")
    item.tags = clean_tags(item.tags, at + ".tags")
    problem = metadata_problem(bytes(item.metadata))
    if problem is not None:
        raise invalid(at + ".metadata", problem)


def clean_patch(changes: ItemPatch) -> None:
    """clean_write for the fields a patch gives."""
    if isinstance(changes.name, str):
        changes.name = _clean_name(changes.name, "$.name")
    if isinstance(changes.description, str):
        changes.description = _clean_description(changes.description, "$.description")
    if isinstance(changes.tags, list):
        changes.tags = clean_tags(changes.tags, "$.tags")
    if isinstance(changes.metadata, msgspec.Raw):
        check_metadata(changes.metadata, "$.metadata")


def check_metadata(raw: msgspec.Raw, field: str) -> None:
    problem = metadata_problem(bytes(raw))
    if problem is not None:
        raise invalid(field, problem)


def metadata_problem(text: bytes) -> str | None:
    """Why this JSON text (valid JSON, as msgspec.Raw captured it) is not metadata, or None."""
    if text[:1] != b"{":
        return f"must be a JSON object, got {_KINDS.get(text[0], 'a number')}"
    if (
        text.count(b"{") + text.count(b"[") <= MAX_METADATA_DEPTH
        and b"\\u0000" not in text
        and len(text) <= _SHORT_TEXT
        and _EXPONENT.search(text) is None
    ):
        return None
    try:
        value = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    except RecursionError:
        return TOO_DEEP
    except InvalidOperation:  # an exponent beyond what Decimal holds (10**18)
        return _OUT_OF_RANGE
    return _value_problem(value)


async def clean_body(size: int, clean: Callable[..., None], *args: Any) -> None:
    """Run `clean(*args)` (clean_write, clean_patch or a batch's loop) on the event loop for a
    body of at most OFF_LOOP_BYTES, else in a worker thread; its 422 propagates either way."""
    if size <= OFF_LOOP_BYTES:
        clean(*args)
    else:
        await asyncio.to_thread(clean, *args)


TOO_DEEP = f"nested deeper than {MAX_METADATA_DEPTH} levels"
_NUL = "text must not contain NUL (\\u0000), which PostgreSQL cannot store"
_OUT_OF_RANGE = (
    "a number is out of PostgreSQL's numeric range"
    f" ({_NUMERIC_INTEGER_DIGITS} digits before the decimal point, {_NUMERIC_SCALE} after)"
)


def _value_problem(root: Any) -> str | None:
    pending: list[tuple[Any, int]] = [(root, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            if depth > MAX_METADATA_DEPTH:
                return TOO_DEEP
            for key, member in value.items():
                if "\x00" in key:
                    return _NUL
                pending.append((member, depth + 1))
        elif isinstance(value, list):
            if depth > MAX_METADATA_DEPTH:
                return TOO_DEEP
            pending.extend((member, depth + 1) for member in value)
        elif isinstance(value, str):
            if "\x00" in value:
                return _NUL
        elif isinstance(value, Decimal) and not _fits_numeric(value):
            return _OUT_OF_RANGE
    return None


def _fits_numeric(number: Decimal) -> bool:
    _, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # JSON has no NaN or infinity
    if -exponent > _NUMERIC_SCALE or abs(exponent) >= _NUMERIC_EXPONENT_LIMIT:
        return False
    return not any(digits) or len(digits) + exponent <= _NUMERIC_INTEGER_DIGITS


def too_deep(document: bytes) -> ProblemError:
    """The 422 for a JSON body that nests too deep for the decoder: it names the metadata member
    holding the nesting (the one place a body takes free-form JSON), else the deepest path."""
    path = _path_at_depth(document, _DECODER_SAFE_DEPTH)
    if "metadata" in path:
        path = path[: path.index("metadata") + 1]
    field = "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)
    return invalid(field, TOO_DEEP)


def _path_at_depth(document: bytes, depth: int) -> list[str | int]:
    """The path of the first array or object opened at `depth` (the document is depth 1)."""
    path: list[str | int] = []
    open_kinds: list[int] = []
    previous = 0
    for match in _JSON_TOKEN.finditer(document):
        token = match.group()
        first = token[0]
        if first in b"[{":
            if len(open_kinds) == depth - 1:
                return path
            open_kinds.append(first)
            path.append(0 if first == ord("[") else "")
        elif first in b"]}":
            open_kinds.pop()
            path.pop()
        elif first == ord(","):
            if open_kinds[-1] == ord("["):
                path[-1] = int(path[-1]) + 1
        elif first == ord('"') and open_kinds[-1:] == [ord("{")] and previous in b"{,":
            path[-1] = json.loads(token)
        previous = first
    return path
