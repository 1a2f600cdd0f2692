"""Entity tags for items, derived from updated_at (bumped on every write by a trigger)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def etag_for(updated_at: datetime) -> str:
    return f'"{(updated_at - _EPOCH) // _MICROSECOND:x}"'


def parse_tags(header: bytes) -> list[str]:
    """The entity tags of an If-Match / If-None-Match header, weak prefixes removed; ["*"] for *."""
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
