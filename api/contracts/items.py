"""The HTTP contract of items: the bodies of /api/v1/items and its query, the patterns and limits
of their fields, and what types cannot check: one Unicode form, tag and name rules, and metadata
that PostgreSQL's jsonb stores exactly as the client wrote it.

- Text (names, descriptions, tags, the `q`, `tags` and `tags_all` parameters) is normalized to
  NFC (Unicode Standard Annex #15), so that text that renders the same matches the same.
- Lengths count the characters of that NFC form: a name or tag sent in NFD (macOS) counts what it
  will store (api.contracts.common.NFC_EXPANSION).
- A tag is 1 to TAG_LENGTH characters, neither blank nor beginning or ending with whitespace
  (Unicode's White_Space property) or an invisible character (its Default_Ignorable_Code_Point,
  such as U+200B), without comma or NUL; writes and filters apply the same rule. An item keeps
  each tag once, in first-seen order, and at most MAX_TAGS of them. Tags are case-sensitive.
- A name is not blank: not only whitespace and invisible characters.
- Metadata stays the client's JSON text (`msgspec.Raw`): its numbers are never converted to
  floats, and jsonb keeps them as PostgreSQL's `numeric` does (`1.10` stays `1.10`). It must be an
  object nested at most MAX_METADATA_DEPTH levels (the object itself is level 1), hold no NUL
  (`\\u0000`, which jsonb refuses), and numbers that print (in full, as `numeric` writes them)
  in at most MAX_NUMBER_CHARS characters and together at most MIN_NUMBER_GROWTH characters (or
  the metadata's length) longer than written: 9 bytes of `1e131071` would print 131,072.

Every refusal is a 422 problem naming the field (`$.tags[2]`, `$[4].metadata`, `query.tags`).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from api.contracts.common import (
    CANONICAL_UUID,
    LIMIT_FORM,
    NFC_EXPANSION,
    UUID_LENGTH,
    Cursor,
    QueryForm,
    nfc,
)
from api.problems import ProblemError, invalid
from queries.items import DEFAULT_SORT, FIELDS, SORTS, BatchOutcome, ItemFilter

NAME_LENGTH, DESCRIPTION_LENGTH, TAG_LENGTH = 100, 10_000, 64
MAX_TAGS = 64
MAX_BATCH = 1000
# GET /api/v1/items: the page size when none is asked for, and the largest one may ask for.
ITEM_PAGE_SIZE, ITEM_PAGE_SIZE_MAX = 50, 200
# `Prefer: count=exact` counts at most this many items; past it the count reads "100000+".
ITEM_COUNT_CAP = 100_000
SEARCH_LENGTH = 200  # of the `q` parameter
MAX_METADATA_DEPTH = 32
# The longest a metadata number may print, as PostgreSQL's numeric writes it (in full, without an
# exponent): an IEEE double's extremes print 310 (1.7976931348623157e308) and 326 (5e-324).
MAX_NUMBER_CHARS = 1000
# And all of one metadata's numbers together print at most this many characters more than they
# are written, or the metadata's own length when that is more: a 2 MB body cannot print 1 GB.
MIN_NUMBER_GROWTH = 64 * 1024
# The limit decoding applies -> the one it stands for, to say the latter in a refusal.
STORED_LENGTH = {NFC_EXPANSION * n: n for n in (NAME_LENGTH, DESCRIPTION_LENGTH, TAG_LENGTH)}

NO_NUL = r"^[^\x00]*$"
# Unicode's White_Space property (PropList.txt), the characters a tag may not begin
# or end with, and a name may not consist of.
WHITESPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
# The Default_Ignorable_Code_Point characters of the Basic Multilingual Plane
# (DerivedCoreProperties.txt): zero-width spaces and joiners, bidirectional controls, the soft
# hyphen, variation selectors, Hangul fillers, the BOM. They render as nothing, so a name of only
# these is as blank as one of spaces, and a tag may not begin or end with one ("kitchen\u200b"
# would look like "kitchen"). Ranges as pairs of characters.
INVISIBLE_RANGES = (
    "\u00ad\u00ad\u034f\u034f\u061c\u061c\u115f\u1160\u17b4\u17b5\u180b\u180f\u200b\u200f"
    "\u202a\u202e\u2060\u206f\u3164\u3164\ufe00\ufe0f\ufeff\ufeff\uffa0\uffa0"
)


def _class(ranges: str) -> str:
    return "".join(
        f"\\u{ord(ranges[i]):04x}-\\u{ord(ranges[i + 1]):04x}" for i in range(0, len(ranges), 2)
    )


BLANK = WHITESPACE + "".join(
    chr(c)
    for i in range(0, len(INVISIBLE_RANGES), 2)
    for c in range(ord(INVISIBLE_RANGES[i]), ord(INVISIBLE_RANGES[i + 1]) + 1)
)
# The same class in Python and ECMA-262: \u escapes only.
_WS = "".join(f"\\u{ord(c):04x}" for c in WHITESPACE) + _class(INVISIBLE_RANGES)
NAME_PATTERN = rf"^[^\u0000]*[^\u0000{_WS}][^\u0000]*$"
_TAG_MIDDLE = NFC_EXPANSION * TAG_LENGTH - 2
_TAG = rf"[^,\u0000{_WS}](?:[^,\u0000]{{0,{_TAG_MIDDLE}}}[^,\u0000{_WS}])?"
TAG_PATTERN = f"^{_TAG}$"
# The `tags` and `tags_all` filters: 1 to MAX_TAGS tags, comma-separated.
TAG_LIST_PATTERN = f"^{_TAG}(?:,{_TAG}){{0,{MAX_TAGS - 1}}}$"
# What a value refused by one of these patterns is told (api.http.plain_message).
PATTERN_MESSAGES = {
    TAG_PATTERN: (
        "a tag must not be blank, contain a comma or NUL, or begin or end with whitespace"
        " or an invisible character"
    ),
    NAME_PATTERN: "must not be blank (only whitespace or invisible characters) or contain NUL",
}
Name = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=NFC_EXPANSION * NAME_LENGTH,
        pattern=NAME_PATTERN,
        description=f"1 to {NAME_LENGTH} characters in NFC, not all white space or invisible",
    ),
]
Description = Annotated[
    str,
    Meta(
        max_length=NFC_EXPANSION * DESCRIPTION_LENGTH,
        pattern=NO_NUL,
        description=f"At most {DESCRIPTION_LENGTH} characters in NFC",
    ),
]
Tag = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=NFC_EXPANSION * TAG_LENGTH,
        pattern=TAG_PATTERN,
        description=f"1 to {TAG_LENGTH} characters in NFC, no comma, not beginning or ending"
        " with white space or an invisible character",
    ),
]
Tags = Annotated[list[Tag], Meta(max_length=MAX_TAGS)]
# The client's JSON text, passed to jsonb untouched so that numbers keep every digit; metadata
# checks that it is an object within the limits.
Metadata = msgspec.Raw
_EMPTY_OBJECT = msgspec.Raw(b"{}")
# The exact length also keeps out the final newline that Python's $ lets through.
ItemId = Annotated[
    str,
    Meta(
        min_length=UUID_LENGTH,
        max_length=UUID_LENGTH,
        pattern=CANONICAL_UUID,
        description="A UUID in its canonical 8-4-4-4-12 form",
        extra_json_schema={"format": "uuid"},
    ),
]


class ItemWrite(Struct, forbid_unknown_fields=True):
    """A whole item as a client sends it, to create or to replace."""

    name: Name
    description: Description | None = None
    tags: Tags = []
    metadata: Metadata = msgspec.field(default_factory=lambda: _EMPTY_OBJECT)


class ItemPatch(Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Fields to change; a field left out stays as it is."""

    name: Name | UnsetType = UNSET
    description: Description | UnsetType | None = UNSET
    tags: Tags | UnsetType = UNSET
    metadata: Metadata | UnsetType = UNSET


class BatchItem(ItemWrite, forbid_unknown_fields=True):
    """One item of a bulk upsert: created when `id` is absent or unknown, replaced otherwise."""

    id: ItemId | None = None


BatchBody = Annotated[list[BatchItem], Meta(min_length=1, max_length=MAX_BATCH)]


class ImportItem(BatchItem, forbid_unknown_fields=True):
    """One item of an import: a batch item, and what an export writes besides, which an import
    takes and leaves (the owner is the importer, the dates the database's)."""

    owner_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


class ImportResult(Struct):
    """What an import did: items created, replaced, and left as they were (no change)."""

    created: int
    updated: int
    unchanged: int


class BatchResult(Struct):
    items: list[BatchOutcome]
    created: int
    updated: int


AwareDatetime = Annotated[datetime, Meta(tz=True)]


class ItemSelection(Struct, forbid_unknown_fields=True):
    """The filters and order of GET /items and GET /items/export, as strings converted by
    msgspec."""

    tags: str | None = None
    tags_all: str | None = None
    metadata: str | None = None
    q: Annotated[str, Meta(min_length=1, max_length=SEARCH_LENGTH, pattern=NO_NUL)] | None = None
    created_after: AwareDatetime | None = None
    created_before: AwareDatetime | None = None
    sort: str | None = None


class ListQuery(ItemSelection, forbid_unknown_fields=True):
    """Query parameters of GET /items."""

    limit: Annotated[int, Meta(ge=1, le=ITEM_PAGE_SIZE_MAX)] = ITEM_PAGE_SIZE
    cursor: Cursor | None = None
    fields: str | None = None


# The formats of GET /items/export, by their `format` name: (media type, Content-Type).
EXPORT_FORMATS = {
    "ndjson": ("application/x-ndjson", b"application/x-ndjson"),
    "csv": ("text/csv", b"text/csv; charset=utf-8; header=present"),
}


class ExportQuery(ItemSelection, forbid_unknown_fields=True):
    """Query parameters of GET /items/export: the list's filters and sort, and the format
    (else the Accept header's)."""

    format: Literal["ndjson", "csv"] | None = None


def item_filter(query: ItemSelection) -> ItemFilter:
    """The filters of a list or an export, each checked (422 naming `query.<name>`)."""
    return ItemFilter(
        tags_any=tag_filter(query.tags, "tags"),
        tags_all=tag_filter(query.tags_all, "tags_all"),
        metadata=metadata_filter(query.metadata),
        q=None if query.q is None else nfc(query.q),
        created_after=_instant(query.created_after, "created_after"),
        created_before=_instant(query.created_before, "created_before"),
    )


def _instant(value: datetime | None, name: str) -> datetime | None:
    """A date-time that is one once in UTC (what the driver sends): years 1 to 9999 there, so
    9999-12-31T23:59:59-01:00 is refused here, not by the driver mid-statement."""
    if value is not None:
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise invalid(f"query.{name}", "must fall within the years 1 to 9999 in UTC") from None
    return value


class ItemQuery(Struct, forbid_unknown_fields=True):
    """Query parameters of GET /items/{id}."""

    fields: str | None = None


_FIELD_LIST = ", ".join(FIELDS)


def parse_fields(value: str | None) -> list[str] | None:
    """The `fields` parameter: names of an item's fields, comma-separated, each once, in the
    item's order; None when absent; else 422 naming `query.fields`."""
    if value is None:
        return None
    asked = value.split(",")
    for name in asked:
        if name not in FIELDS:
            message = "an empty field name" if not name else f"unknown field {name!r}"
            raise invalid(
                "query.fields",
                message,
                f"query.fields: {message}; fields are comma-separated names among {_FIELD_LIST}",
            )
    return [name for name in FIELDS if name in asked]


# What each sort other than the default may be combined with; any other filter is refused.
_SORT_FILTERS = {"created_at": ("created_after", "created_before")}
_SORT_LIST = ", ".join(SORTS)
_SORT_FIELDS = ("created_at", "updated_at", "name")


def _sort_problem(value: str) -> str:
    """Why `value` is none of SORTS."""
    fields = value.split(",")
    for field in fields:
        if not field:
            return "an empty field"
        if field.removeprefix("-") not in _SORT_FIELDS:
            return f"unknown field {field!r}"
    if len(fields) > 2:
        return "at most two fields"
    if fields[0].lstrip("-") == fields[1].lstrip("-"):
        return f"{fields[1].lstrip('-')} given twice"
    return f"{fields[1]!r} cannot follow {fields[0]!r}: only name or -name takes a second field"


def parse_sort(value: str | None, where: ItemFilter) -> str | None:
    """The `sort` parameter, checked against the filters it is combined with (each allowed
    sort and combination has an index: docs/api.md#sorting); None when absent; else 422 naming
    `query.sort`."""
    if value is None:
        return None
    if value not in SORTS:
        message = _sort_problem(value)
        raise invalid(
            "query.sort",
            message,
            f"query.sort: {message}; sort by one of {_SORT_LIST} (each needs an index of its"
            " own: docs/api.md#sorting)",
        )
    if value == DEFAULT_SORT or where.q is not None:  # a search takes every filter
        return value
    allowed = _SORT_FILTERS.get(value, ())
    for name in ("tags", "tags_all", "metadata", "created_after", "created_before"):
        given = getattr(where, "tags_any" if name == "tags" else name) is not None
        if given and name not in allowed:
            raise invalid(
                "query.sort",
                f"sort={value} cannot be combined with {name}",
                f"query.sort: sort={value} cannot be combined with {name}; only"
                f" sort={DEFAULT_SORT} (the default) takes every filter"
                + (f", sort={value} only {' and '.join(allowed)}" if allowed else ""),
            )
    return value


# RFC 3339 section 5.6 date-time, the offset required.
_DATE_TIME = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_RFC_3339 = "must be an RFC 3339 date-time with an offset, e.g. 2026-01-31T12:00:00Z"
# msgspec's lax conversion also reads 1700000000 as a date-time: only the forms the document
# promises pass.
LIST_FORMS: tuple[QueryForm, ...] = (
    LIMIT_FORM,
    ("created_after", _DATE_TIME, _RFC_3339),
    ("created_before", _DATE_TIME, _RFC_3339),
)
# The parameters a list may repeat: their values are joined with commas.
LIST_REPEATABLE = ("tags", "tags_all")

# PostgreSQL refuses a numeric whose exponent reaches INT_MAX / 2, even a zero's (numeric.c); an
# exponent written with more digits than this is refused before it is converted.
_EXPONENT_DIGITS = 7
# Metadata text that passes these byte checks is valid as it is: at most MAX_METADATA_DEPTH
# brackets cannot nest deeper than that, NUL can only be written as \u0000, and a number prints
# longer than it is written only with an exponent, or is longer than MAX_NUMBER_CHARS as written.
_EXPONENT = re.compile(rb"[0-9][eE]")
_KINDS = {
    ord("["): "an array",
    ord('"'): "a string",
    ord("t"): "a boolean",
    ord("f"): "a boolean",
    ord("n"): "null",
}
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
# A string with no NUL escape: what is left after removing these holds every \u0000 escape.
_STRING_WITHOUT_NUL = re.compile(rb'"[^"\\]*(?:\\(?!u0000).[^"\\]*)*"')
# Outside strings: a number with an exponent (anchored at the number's first character, so the
# scan stays linear), and a run of number characters longer than any allowed number.
_EXPONENT_NUMBER = re.compile(rb"(?<![0-9.+-])(-?)([0-9]*+)(?:\.([0-9]*+))?[eE]([+-]?[0-9]++)")
# An exponent's magnitude (its first 8 digits: any more make it too large all the same).
_EXPONENT_VALUE = re.compile(rb"(?<=[0-9])[eE][+-]?([0-9]{1,8})")
# A number that may print longer than MAX_NUMBER_CHARS with an exponent below 100.
_NEAR_LONG = MAX_NUMBER_CHARS - 98
_LONG_NUMBER = re.compile(rb"[0-9.eE+-]{%d,}" % _NEAR_LONG)
_LARGE_EXPONENT = re.compile(rb"(?<=[0-9])[eE][+-]?0*[1-9][0-9]{2}")
# An innermost array or object (strings already removed): replacing every one with a scalar
# removes one level of nesting everywhere.
_INNERMOST = re.compile(rb"[\[{][^\[\]{}]*[\]}]")
_BRACKETS = re.compile(rb"[\[\]{}]")
# Bodies larger than this are checked in a worker thread: the checks above are regular expressions
# (C, linear), but a 2 MB body still costs a few milliseconds of the loop's time.
OFF_LOOP_BYTES = 64 * 1024
# msgspec refuses nesting past about 900 levels (Python's recursion limit); no value reaches this
# depth legitimately, so the first container there lies on the offending path.
_DECODER_SAFE_DEPTH = 100
_BLANK_CLASS = "[" + re.escape(BLANK) + "]"
_TAG_EDGE = re.compile(f"(?:^|\x00){_BLANK_CLASS}|{_BLANK_CLASS}(?:\x00|$)")
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}:,]')


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
    if any(len(tag) > TAG_LENGTH for tag in tags):  # NFC_EXPANSION times more decoded, for NFD
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
    if len(name) > NAME_LENGTH:  # NFC_EXPANSION times more decoded, for NFD
        raise invalid(field, f"must have at most {NAME_LENGTH} characters")
    return name


def _clean_description(description: str, field: str) -> str:
    description = nfc(description)
    if len(description) > DESCRIPTION_LENGTH:
        raise invalid(field, f"must have at most {DESCRIPTION_LENGTH} characters")
    return description


def clean_write(item: ItemWrite, at: str = "$") -> None:
    """Normalize a decoded create, replace or batch item in place, or raise a 422 naming the
    field under `at` (`$`, or `$[i]` in a batch)."""
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
    """clean_write for the fields a patch gives; 422 when it gives none."""
    if all(getattr(changes, field) is UNSET for field in ItemPatch.__struct_fields__):
        fields = ", ".join(ItemPatch.__struct_fields__)
        raise invalid("$", "no field to change", f"give at least one of: {fields}")
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


def clean_batch(body: list[BatchItem]) -> None:
    """clean_write for each entry; a fresh id for each entry without one; 422 for a repeated id."""
    seen: set[UUID] = set()
    for index, entry in enumerate(body):
        clean_write(entry, f"$[{index}]")
        item_id = uuid4() if entry.id is None else UUID(entry.id)
        if item_id in seen:
            raise invalid(
                f"$[{index}].id",
                "duplicate id",
                f"$[{index}].id: {item_id} appears more than once in the batch",
            )
        seen.add(item_id)
        entry.id = str(item_id)


def tag_filter(value: str | None, name: str) -> list[str] | None:
    """The comma-separated tags of a filter, each a tag as writes define it."""
    if value is None:
        return None
    field = f"query.{name}"
    tags = [nfc(tag) for tag in value.split(",")]
    problem = "give at least one tag" if value == "" else None
    if len(tags) > MAX_TAGS:
        problem = f"at most {MAX_TAGS} tags"
    for tag in tags:
        problem = problem or tag_problem(tag)
    if problem is not None:
        raise invalid(field, problem)
    return list(dict.fromkeys(tags))


def metadata_filter(value: str | None) -> msgspec.Raw | None:
    """The `metadata` parameter as its JSON text, checked as item metadata is (NUL included)."""
    if value is None:
        return None
    try:
        raw = msgspec.json.decode(value, type=msgspec.Raw)
    except RecursionError:
        raise invalid("query.metadata", TOO_DEEP) from None
    except msgspec.DecodeError:
        raise invalid("query.metadata", 'must be a JSON object, e.g. {"color":"red"}') from None
    check_metadata(raw, "query.metadata")
    return raw


def metadata_problem(text: bytes) -> str | None:
    """Why this JSON text (valid JSON, as msgspec.Raw captured it) is not metadata, or None.
    Linear in the text's length, in regular expressions: no decoding."""
    if text[:1] != b"{":
        return f"must be a JSON object, got {_KINDS.get(text[0], 'a number')}"
    deep = text.count(b"{") + text.count(b"[") > MAX_METADATA_DEPTH
    long = len(text) >= _NEAR_LONG
    if not deep and not long and _EXPONENT.search(text) is None and b"\\u0000" not in text:
        return None
    if b"\\u0000" in text and b"\\u0000" in _STRING_WITHOUT_NUL.sub(b"", text):
        return _NUL
    outside_strings = _STRING.sub(b'""', text) if b'"' in text else text
    near_long = _LONG_NUMBER.search(outside_strings) if long else None
    if near_long is not None and len(near_long[0]) > MAX_NUMBER_CHARS:
        return _TOO_LONG
    # A number with an exponent prints longer than written by less than the exponent's magnitude:
    # small exponents on numbers well within the limit, summing to less than the allowance
    # (taken in C), clear most metadata; the exact count (a loop) runs only otherwise.
    allowance = max(len(text), MIN_NUMBER_GROWTH)
    exponents = _EXPONENT_VALUE.findall(outside_strings)
    if exponents and (
        near_long is not None
        or _LARGE_EXPONENT.search(outside_strings) is not None
        or sum(map(int, exponents)) > allowance
    ):
        growth = 0  # how many characters more the numbers print than they are written
        for number in _EXPONENT_NUMBER.finditer(outside_strings):
            printed = _printed_length(*number.groups())
            if printed > MAX_NUMBER_CHARS:
                return _TOO_LONG
            growth += printed - len(number[0])
            if growth > allowance:
                return _GROWS_TOO_MUCH
    if deep:
        for _ in range(MAX_METADATA_DEPTH):
            outside_strings = _INNERMOST.sub(b"0", outside_strings)
        if _BRACKETS.search(outside_strings) is not None:
            return TOO_DEEP
    return None


def _printed_length(sign: bytes, integer: bytes, fraction: bytes | None, exponent: bytes) -> int:
    """The length of a JSON number with an exponent as PostgreSQL's numeric prints it: in full,
    with the scale it was written with (1.50e1 is 15.0, 1e-3 is 0.001, 1e3 is 1000)."""
    if len(exponent.lstrip(b"+-")) > _EXPONENT_DIGITS:
        return MAX_NUMBER_CHARS + 1
    fraction = fraction or b""
    shift = int(exponent)
    digits = integer + fraction
    scale = max(0, len(fraction) - shift)
    fraction_part = 1 + scale if scale else 0
    significant = digits.lstrip(b"0")
    if not significant:  # numeric has one zero, unsigned: 0e-3 is 0.000
        return 1 + fraction_part
    integer_digits = len(integer) + shift - (len(digits) - len(significant))
    return len(sign) + max(integer_digits, 1) + fraction_part


async def clean_body(size: int, clean: Callable[..., None], *args: Any) -> None:
    """Run `clean(*args)` (clean_write, clean_patch or a batch's loop) on the event loop for a
    body of at most OFF_LOOP_BYTES, else in a worker thread; its 422 propagates either way."""
    if size <= OFF_LOOP_BYTES:
        clean(*args)
    else:
        await asyncio.to_thread(clean, *args)


TOO_DEEP = f"nested deeper than {MAX_METADATA_DEPTH} levels"
_NUL = "text must not contain NUL (\\u0000), which PostgreSQL cannot store"
_TOO_LONG = (
    f"a number must print in at most {MAX_NUMBER_CHARS} characters as PostgreSQL's numeric"
    " writes it: in full, so 1e400 is a 1 and 400 zeros"
)
_GROWS_TOO_MUCH = (
    "numbers written with exponents would print (in full, as PostgreSQL's numeric writes them)"
    f" more than {MIN_NUMBER_GROWTH} characters longer, or more than the metadata's own length"
)


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
