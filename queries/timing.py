"""Statement timings: per request (Server-Timing) and per statement name (the metrics)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Awaitable
from contextvars import ContextVar
from time import perf_counter
from typing import Any, TypeVar

import asyncpg

from queries.loader import STATEMENT_NAMES

T = TypeVar("T")


class DatabaseTimer:
    """Seconds spent in statements during one request, summed by TimedConnection."""

    __slots__ = ("seconds",)

    def __init__(self) -> None:
        self.seconds = 0.0


current_timer: ContextVar[DatabaseTimer | None] = ContextVar("current_timer", default=None)

# Upper bounds (seconds) of the statement-duration histogram; the last one is +Inf.
STATEMENT_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, float("inf")
)  # fmt: skip


class Histograms:
    """Observations by name since the last `take`, one histogram per name (counts per bucket
    bound, and the sum), kept in plain lists so that one costs a dict lookup and two additions;
    api.metrics publishes them."""

    __slots__ = ("_buckets", "_by_name")

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self._buckets = buckets
        self._by_name: dict[str, list[float]] = {}

    def observe(self, name: str, value: float) -> None:
        counts = self._by_name.get(name)
        if counts is None:
            counts = self._by_name[name] = [0.0] * (len(self._buckets) + 1)
        counts[bisect_left(self._buckets, value)] += 1
        counts[-1] += value

    def take(self) -> dict[str, list[float]]:
        """Name -> [count per bucket..., sum of values]; starts counting afresh."""
        taken, self._by_name = self._by_name, {}
        return taken


# One per process: every TimedConnection of every pool adds to it, by the statement's sql/ name.
# Statements not loaded from sql/ (BEGIN, COMMIT) are not counted.
statement_times = Histograms(STATEMENT_BUCKETS)


async def _timed(call: Awaitable[T], query: str) -> T:
    start = perf_counter()
    try:
        return await call
    finally:
        elapsed = perf_counter() - start
        timer = current_timer.get()
        if timer is not None:
            timer.seconds += elapsed
        name = STATEMENT_NAMES.get(query)
        if name is not None:
            statement_times.observe(name, elapsed)


class TimedConnection(asyncpg.Connection):
    """A connection that times each statement: for the request's DatabaseTimer (Server-Timing)
    and for the statement-duration metrics."""

    def fetch(self, query: str, *args: Any, **kwargs: Any) -> Awaitable[list[asyncpg.Record]]:  # type: ignore[override]
        return _timed(super().fetch(query, *args, **kwargs), query)

    def fetchrow(self, query: str, *args: Any, **kwargs: Any) -> Awaitable[asyncpg.Record | None]:  # type: ignore[override]
        return _timed(super().fetchrow(query, *args, **kwargs), query)

    def fetchval(self, query: str, *args: Any, **kwargs: Any) -> Awaitable[Any]:  # type: ignore[override]
        return _timed(super().fetchval(query, *args, **kwargs), query)

    def execute(self, query: str, *args: Any, **kwargs: Any) -> Awaitable[str]:  # type: ignore[override]
        return _timed(super().execute(query, *args, **kwargs), query)
