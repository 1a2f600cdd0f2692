"""Query functions for `sql/auth/`: failed-login throttling."""

from __future__ import annotations

from datetime import datetime

from msgspec import Struct

from queries.loader import load
from queries.pool import Executor


class ThrottleState(Struct):
    subject: str
    failures: int
    window_ends_at: datetime


THROTTLE_STATUS = load("auth/throttle_status")
RECORD_FAILURE = load("auth/record_failure")
CLEAR_FAILURES = load("auth/clear_failures")


async def throttle_status(
    db: Executor, subjects: list[str], window_seconds: int
) -> list[ThrottleState]:
    rows = await db.fetch(THROTTLE_STATUS, subjects, window_seconds)
    return [ThrottleState(*row) for row in rows]


async def record_failure(db: Executor, subjects: list[str], window_seconds: int) -> None:
    await db.execute(RECORD_FAILURE, subjects, window_seconds)


async def clear_failures(db: Executor, subject: str) -> None:
    await db.execute(CLEAR_FAILURES, subject)
