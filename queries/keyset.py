"""Keyset pagination: a page's position, and the sentinels that stand for an open end."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

# A position in newest-first order: the (created_at, id) of the previous page's last row.
TimeKey = tuple[datetime, UUID]
# A position in a two-field sort: the (name, created_at or updated_at, id) of a row.
NameTimeKey = tuple[str, datetime, UUID]
# A position in list order (created_at or updated_at), the (score, id) of a row in search order,
# the (name, id) of a row in name order, or a two-field sort's.
PageKey = TimeKey | tuple[float, UUID] | tuple[str, UUID] | NameTimeKey
# asyncpg sends these as -infinity and infinity.
NEG_INFINITY = datetime.min.replace(tzinfo=UTC)
POS_INFINITY = datetime.max.replace(tzinfo=UTC)
MAX_UUID = UUID(int=(1 << 128) - 1)
MIN_UUID = UUID(int=0)
# Before the first row of a newest-first list.
FIRST: TimeKey = (POS_INFINITY, MAX_UUID)
# Before the first row of an oldest-first list.
FIRST_ASCENDING: TimeKey = (NEG_INFINITY, MIN_UUID)
