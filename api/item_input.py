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
  (`\\u0000`, which jsonb refuses), and numbers that print (in full, as `numeric` writes them)
  in at most MAX_NUMBER_CHARS characters and together at most MIN_NUMBER_GROWTH characters (or
  the metadata's length) longer than written: 9 bytes of `1e131071` would print 131,072.

Every refusal is a 422 problem naming the field (`$.tags[2]`, `$[4].metadata`, `query.tags`).
"""

from __future__ import annotations

import asyncio
import json
import re
import unicodedata
from collections.abc import Callable
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
# The longest a metadata number may print, as PostgreSQL's numeric writes it (in full, without an
# exponent): an IEEE double's extremes print 310 (1.7976931348623157e308) and 326 (5e-324).
MAX_NUMBER_CHARS = 1000
# And all of one metadata's numbers together print at most this many characters more than they
# are written, or the metadata's own length when that is more: a 2 MB body cannot print 1 GB.
MIN_NUMBER_GROWTH = 64 * 1024
# PostgreSQL refuses a numeric whose exponent reaches INT_MAX / 2, even a zero's (numeric.c); an
# exponent written with more digits than this is refused before it is converted.
_EXPONENT_DIGITS = 7
# Metadata text that passes these byte checks is valid as it is: at most 32 brackets cannot nest
# deeper than 32 levels, NUL can only be written as \u0000, and a number prints longer than it is
# written only with an exponent, or is longer than MAX_NUMBER_CHARS as written.
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
