"""Entity tags of items (derived from updated_at, bumped on every write by a trigger) and the
preconditions that compare them (RFC 9110 section 13)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from api.problems import ProblemError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# entity-tag = [ weak ] opaque-tag; opaque-tag = DQUOTE *etagc DQUOTE (RFC 9110 section 8.8.3).
_OUR_TAG = re.compile(r'"([0-9a-f]{1,16})"')
_ENTITY_TAG = re.compile(r'[ \t]*(W/)?("[\x21\x23-\x7e\x80-\xff]*")[ \t]*')


class EntityTags(NamedTuple):
    """An If-Match or If-None-Match field: `*`, or the entity tags it lists.

    `strong` has the tags not marked weak, which are all that If-Match's strong comparison can
    match; `opaque` has every tag with W/ dropped, for If-None-Match's weak comparison
    (RFC 9110 section 8.8.3.2).
    """

    any: bool
    strong: tuple[str, ...]
    opaque: tuple[str, ...]


def etag_for(updated_at: datetime) -> str:
    return f'"{(updated_at - _EPOCH) // _MICROSECOND:x}"'


# A client never needs more (it sends the tags of the versions it holds); the request head's
# 16 KiB bound alone would still allow thousands, each compared against the item.
MAX_ENTITY_TAGS = 64


def parse_tags(lines: Sequence[bytes]) -> EntityTags | None:
    """The field of every line of a header, as one list (RFC 9110 section 5.3); None when the
    request has no such header. A member that is not an entity tag matches nothing. 400 when the
    lines list more than MAX_ENTITY_TAGS members."""
    if not lines:
        return None
    if sum(line.count(b",") + 1 for line in lines) > MAX_ENTITY_TAGS:
        raise ProblemError(
            400,
            f"If-Match and If-None-Match list at most {MAX_ENTITY_TAGS} entity tags",
            slug="too-many-entity-tags",
        )
    text = ",".join(line.decode("latin-1") for line in lines)
    any_, strong, opaque = False, [], []
    position, end = 0, len(text)
    while position < end:
        if text[position] in ", \t":
            position += 1
            continue
        if text[position] == "*":
            any_ = True
            position += 1
            continue
        match = _ENTITY_TAG.match(text, position)
        if match is None or (match.end() < end and text[match.end()] != ","):
            following = text.find(",", position)  # not an entity tag: skip this member
            position = end if following < 0 else following + 1
            continue
        opaque.append(match[2])
        if match[1] is None:
            strong.append(match[2])
        position = match.end()
    return EntityTags(any_, tuple(strong), tuple(opaque))


def matches_weakly(tags: EntityTags, etag: str) -> bool:
    """If-None-Match's comparison: `*`, or any listed tag, weak or not, with the same opaque
    part as `etag`."""
    return tags.any or etag.removeprefix("W/") in tags.opaque


def strong_versions(tags: EntityTags) -> list[datetime]:
    """The updated_at values If-Match accepts: those of its strong tags of ours only."""
    return [version for tag in tags.strong if (version := updated_at_of(tag)) is not None]


def updated_at_of(tag: str) -> datetime | None:
    """The updated_at an entity tag of ours stands for; None when it is not one of ours."""
    ours = _OUR_TAG.fullmatch(tag)
    if ours is None:
        return None
    try:
        return _EPOCH + int(ours[1], 16) * _MICROSECOND
    except OverflowError:
        return None
