"""Entity tags for items, derived from updated_at (bumped on every write by a trigger)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.problems import ProblemError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def etag_for(updated_at: datetime) -> str:
    return f'"{(updated_at - _EPOCH) // _MICROSECOND:x}"'


# A client never needs more (it sends the tags of the versions it holds); the request head's
# 16 KiB bound alone would still allow thousands, each compared against the item.
MAX_ENTITY_TAGS = 64


def parse_tags(header: bytes) -> list[str]:
    """The entity tags of an If-Match / If-None-Match header, weak prefixes removed; ["*"] for *.
    400 when it lists more than MAX_ENTITY_TAGS."""
    if header.count(b",") >= MAX_ENTITY_TAGS:
        raise ProblemError(
            400,
            f"If-Match and If-None-Match list at most {MAX_ENTITY_TAGS} entity tags",
            slug="too-many-entity-tags",
        )
    text = header.decode("latin-1").strip()
    if text == "*":
        return ["*"]
    return [part.strip().removeprefix("W/") for part in text.split(",") if part.strip()]


def updated_at_of(tag: str) -> datetime | None:
    """The updated_at an entity tag of ours stands for; None when it is not one of ours."""
    try:
        return _EPOCH + int(tag.strip('"'), 16) * _MICROSECOND
    except (ValueError, OverflowError):
        return None
