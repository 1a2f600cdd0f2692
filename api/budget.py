"""The request budget: every request's deadline, and the one timer per process that cancels the
task of each request past it or whose client has gone (docs/operations.md, "Bounded latency").

Cancelling the task is what stops the work: a task waiting for a pool connection never gets one,
asyncpg answers the cancellation of a running statement with a CancelRequest to PostgreSQL, and
an open transaction rolls back. A commit that PostgreSQL already acknowledged stays committed.
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

# The requests in flight in this process: the task that serves each -> (its deadline in
# perf_counter seconds, its request's content, whose `receive` tells of a disconnect). The
# middleware adds and removes the entries itself: a tuple and a dict insert per request, which
# cost less than a TimerHandle (loop.call_at, asyncio.timeout) or a Task per request on the hot
# path (`python -m benchmarks instructions`); one shared timer keeps every deadline to within
# TICK_SECONDS.
in_flight: dict[asyncio.Task[Any] | None, tuple[float, Any]] = {}
# The tasks cancelled and not yet answered: [why, when (perf_counter)].
_cancelled: dict[asyncio.Task[Any], list[Any]] = {}
# The timer, while requests are in flight; None when idle (then the middleware arms it).
timer: asyncio.TimerHandle | None = None


def arm() -> None:
    global timer
    timer = asyncio.get_running_loop().call_later(TICK_SECONDS, _tick)


def client_gone(content: Any) -> bool:
    """True when uvicorn has seen the client close the connection of this request.

    uvicorn does not cancel the ASGI task when the client goes: it marks the request's
    RequestResponseCycle `disconnected` (tests/http/test_private_names.py guards the name). The flag
    is read through the `receive` bound method BlackSheep keeps on `request.content`, so nothing
    reads from the client meanwhile. Under an ASGI server without that flag, only the deadline
    holds."""
    cycle = getattr(getattr(content, "receive", None), "__self__", None)
    return getattr(cycle, "disconnected", False) is True


def abort_connection(content: Any) -> None:
    """Close the connection of this request at once, unsent bytes dropped, and mark it gone: an
    answer that cannot be finished (a streamed export past its budget) must not look complete to
    its client, which sees the body end before its last chunk. Reaches uvicorn's cycle as
    client_gone does; under an ASGI server without it, nothing happens here."""
    abort_connection_of(getattr(getattr(content, "receive", None), "__self__", None))


def abort_connection_of(cycle: Any) -> None:
    """abort_connection, given uvicorn's request-response cycle."""
    transport = getattr(cycle, "transport", None)
    if transport is not None:
        transport.abort()
        cycle.disconnected = True


# Streamed answers (exports): the task that sends one -> the seconds each of its steps may take.
steps: dict[asyncio.Task[Any], float] = {}


def extend(task: asyncio.Task[Any], content: Any, seconds: float) -> None:
    """Give the streamed answer sent by `task` a deadline `seconds` from now, and after each
    progress (docs/api.md, "Export"), in flight again if it had left."""
    in_flight[task] = (perf_counter() + seconds, content)
    steps[task] = seconds
    if timer is None:
        arm()


def progress(task: asyncio.Task[Any] | None) -> None:
    """The client took some of a streamed answer: its deadline moves a step from now."""
    entry = in_flight.get(task)
    seconds = steps.get(task) if task is not None else None
    if entry is not None and seconds is not None and task not in _cancelled:
        in_flight[task] = (perf_counter() + seconds, entry[1])


def streaming(task: asyncio.Task[Any] | None) -> bool:
    """Whether `task` sends a streamed answer under the budget (see extend)."""
    return task in steps


def finish(task: asyncio.Task[Any]) -> None:
    """The streamed answer of `task` has ended: out of the budget's hands."""
    in_flight.pop(task, None)
    steps.pop(task, None)


def body_incomplete(content: Any) -> bool:
    """True when uvicorn has not yet received the whole body of this request."""
    cycle = getattr(getattr(content, "receive", None), "__self__", None)
    return getattr(cycle, "more_body", False) is True


def _tick() -> None:
    global timer
    now = perf_counter()
    for task, (deadline, content) in in_flight.items():
        if task is None:
            continue
        state = _cancelled.get(task)
        if state is None:
            if now >= deadline:
                _cancelled[task] = ["deadline", now]
            elif client_gone(content):
                _cancelled[task] = ["disconnect", now]
            else:
                continue
        elif now - state[1] < RECANCEL_SECONDS:
            continue
        else:
            state[1] = now
        task.cancel()
    for task in [task for task in _cancelled if task not in in_flight]:
        del _cancelled[task]
    timer = asyncio.get_running_loop().call_later(TICK_SECONDS, _tick) if in_flight else None


def deadline() -> float:
    """The current request's deadline in perf_counter seconds; inf outside a request."""
    task = asyncio.current_task()
    entry = in_flight.get(task) if task is not None else None
    return float("inf") if entry is None else entry[0]


def left() -> float:
    """Seconds left of the current request's budget (0 when spent); inf outside a request."""
    return max(0.0, deadline() - perf_counter())


def acquire_wait(longest: float) -> float:
    """Seconds the current request may wait for a pool connection: `longest`, or what is left
    of its budget when that is less (0 when it is spent). Outside a request: `longest`."""
    task = asyncio.current_task()
    entry = in_flight.get(task) if task is not None else None
    if entry is None:
        return longest
    return max(0.0, min(longest, entry[0] - perf_counter()))


def raise_if_abandoned() -> None:
    """Raise CancelledError when the current request is past its deadline or its client has
    gone: a connection it has just been given after a wait must not run its statement."""
    task = asyncio.current_task()
    entry = in_flight.get(task) if task is not None else None
    if entry is None or task is None:
        return
    if task not in _cancelled:
        now = perf_counter()
        if now >= entry[0]:
            _cancelled[task] = ["deadline", now]
        elif client_gone(entry[1]):
            _cancelled[task] = ["disconnect", now]
        else:
            return
    raise asyncio.CancelledError


def cancelled_by_budget() -> Reason | None:
    """Why the budget cancelled the current task, or None when the cancellation came from
    elsewhere (then it must propagate). The caller answers without awaiting anything and
    leaves `in_flight` at once, so the timer cannot cancel the task again meanwhile."""
    task = asyncio.current_task()
    state = _cancelled.pop(task, None) if task is not None else None
    if state is None or task is None:
        return None
    while task.uncancel():  # every cancel() of the timer is answered by this one answer
        pass
    reason: Reason = state[0]
    return reason
