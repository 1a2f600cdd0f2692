"""The request budget: every request's deadline, and the one timer that enforces them all.

A request registers its task and its deadline when admitted and leaves when answered. While any
request is in flight, one timer per process fires every TICK_SECONDS and cancels the task of
each request past its deadline or whose client has gone. Cancelling the task is what stops the
work: a task waiting for a pool connection never gets one, asyncpg answers the cancellation of a
running statement with a CancelRequest to PostgreSQL (the backend stops working for it), and an
open transaction rolls back. A commit that PostgreSQL already acknowledged stays committed.

Why a shared timer rather than one per request: a dict insert and delete per request cost less
than a TimerHandle (loop.call_at, asyncio.timeout) or a Task per request on the hot path
(`python -m benchmarks instructions`), and the deadline is kept to within TICK_SECONDS.

Client disconnects: uvicorn does not cancel the ASGI task when the client goes; it marks the
request's RequestResponseCycle `disconnected` and answers `http.disconnect` on the next
`receive()` (uvicorn 0.54, protocols/http/httptools_impl.py and h11_impl.py). The timer reads
that flag through the `receive` bound method BlackSheep keeps on `request.content`, so nothing
reads from the client meanwhile. Under an ASGI server without that flag, only the deadline holds.
"""

from __future__ import annotations

import asyncio
from time import perf_counter
from typing import Any, Literal

TICK_SECONDS = 0.05
# A task still running this long after its cancellation (e.g. in asyncpg's shielded release of a
# connection to a frozen server) is cancelled again, so its answer is never late by more.
RECANCEL_SECONDS = 0.25

Reason = Literal["deadline", "disconnect"]


class Budget:
    """One admitted request: its deadline (perf_counter seconds) and why it was cancelled."""

    __slots__ = ("answered", "cancelled_at", "content", "deadline", "reason")

    def __init__(self, deadline: float, content: Any) -> None:
        self.deadline = deadline
        self.content = content  # the request's content, whose `receive` tells of a disconnect
        self.reason: Reason | None = None
        self.cancelled_at = 0.0
        self.answered = False


# The requests in flight in this process, by the task that serves each.
in_flight: dict[asyncio.Task[Any], Budget] = {}
_timer: asyncio.TimerHandle | None = None


def admit(task: asyncio.Task[Any], deadline: float, content: Any) -> None:
    """Start enforcing `deadline` on `task`; call leave(task) when it is answered."""
    global _timer
    in_flight[task] = Budget(deadline, content)
    if _timer is None:
        _timer = task.get_loop().call_later(TICK_SECONDS, _tick)


def leave(task: asyncio.Task[Any]) -> None:
    in_flight.pop(task, None)


def client_gone(content: Any) -> bool:
    """True when uvicorn has seen the client close the connection of this request."""
    cycle = getattr(getattr(content, "receive", None), "__self__", None)
    return getattr(cycle, "disconnected", False) is True


def _tick() -> None:
    global _timer
    now = perf_counter()
    for task, budget in in_flight.items():
        if budget.reason is None:
            if now >= budget.deadline:
                budget.reason = "deadline"
            elif client_gone(budget.content):
                budget.reason = "disconnect"
            else:
                continue
        elif budget.answered or now - budget.cancelled_at < RECANCEL_SECONDS:
            continue
        budget.cancelled_at = now
        task.cancel()
    _timer = asyncio.get_running_loop().call_later(TICK_SECONDS, _tick) if in_flight else None


def acquire_wait(longest: float) -> float:
    """Seconds the current request may wait for a pool connection: `longest`, or what is left
    of its budget when that is less (0 when it is spent). Outside a request: `longest`."""
    task = asyncio.current_task()
    budget = in_flight.get(task) if task is not None else None
    if budget is None:
        return longest
    return max(0.0, min(longest, budget.deadline - perf_counter()))


def raise_if_abandoned() -> None:
    """Raise CancelledError when the current request is past its deadline or its client has
    gone: a connection it has just been given after a wait must not run its statement."""
    task = asyncio.current_task()
    budget = in_flight.get(task) if task is not None else None
    if budget is None:
        return
    if budget.reason is None:
        if perf_counter() >= budget.deadline:
            budget.reason = "deadline"
        elif client_gone(budget.content):
            budget.reason = "disconnect"
        else:
            return
        budget.cancelled_at = perf_counter()
    raise asyncio.CancelledError


def cancelled_by_budget() -> Reason | None:
    """Why the budget cancelled the current task, or None when the cancellation came from
    elsewhere (then it must propagate). Once answered, the task is not cancelled again."""
    task = asyncio.current_task()
    budget = in_flight.get(task) if task is not None else None
    if budget is None or budget.reason is None:
        return None
    budget.answered = True
    assert task is not None
    while task.uncancel():  # every cancel() of the timer is answered by this one answer
        pass
    return budget.reason
