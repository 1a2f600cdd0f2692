"""An open-loop load generator: requests sent at a fixed arrival rate, by the clock, whatever the
answers, to a server on 127.0.0.1.

wrk keeps C connections with one request outstanding on each: when the server slows down, wrk
sends less, and each latency starts when wrk finally sent its request, so the time a request
would have waited is never measured (coordinated omission). wrk's Lua `delay()` only spaces the
requests of one connection after its previous answer, which is the same closed loop. Here
request i is due at start + i / rate. At that moment it goes out on an idle keep-alive
connection; if none is idle, it waits for the first one to come free, and a new connection is
opened for it while fewer than `max_connections` are open. Its latency runs from when it was
due, so every wait counts: in the server, on the way, or in this generator.

One process, uvloop, one asyncio Protocol per connection and httptools to read the answers: no
task per request, no HTTP client library. Due requests go out in batches whenever the event loop
gets to them (about every millisecond); how late the sending was (`lag`) is reported, and so is
the CPU this process used, which tells when the generator, not the server, was the limit
(`python -m benchmarks generator-ceiling` measures its most on a machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import resource
import time
import urllib.parse
from array import array
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import httptools
import uvloop

LOOPBACK = "127.0.0.1"
# Connections one run may open; with more in flight, due requests wait for one to come free.
MAX_CONNECTIONS = 1024
# Connections opened before the first request is due, as a client's pool would hold them.
WARM_CONNECTIONS = 16
# Seconds given, after the last request is due, to the answers still outstanding; the ones not
# answered then are counted as unanswered and their connections closed.
DRAIN_SECONDS = 10.0
# A server that cannot be reached: stop opening connections after this many failed attempts.
MAX_CONNECT_FAILURES = 100


def due_times(rate: float, seconds: float) -> list[float]:
    """When each request is due, in seconds from the start: evenly spaced at `rate` per second,
    as many as fit in `seconds`."""
    if rate <= 0 or seconds <= 0:
        return []
    return [i / rate for i in range(math.floor(rate * seconds))]


def rates(capacity: float, factors: Sequence[float]) -> list[float]:
    """The arrival rates of an open-loop series: `factors` times the measured capacity."""
    return [round(capacity * factor, 1) for factor in factors]


def percentile(ordered: Sequence[float], p: float) -> float:
    """The nearest-rank p-th percentile of values sorted ascending (0.0 for none)."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Tally:
    """What one run saw, per request: its status (0 for a connection lost before an answer),
    its latency from when it was due, and how late it was sent; unanswered requests only count."""

    statuses: array[int] = field(default_factory=lambda: array("H"))
    latencies_s: array[float] = field(default_factory=lambda: array("d"))
    lags_s: array[float] = field(default_factory=lambda: array("d"))
    due: int = 0
    sent_in_time: int = 0  # written within the run's seconds (the rest waited for a connection)
    answered_in_time: int = 0  # answers that arrived within the run's seconds
    waited_for_connection: int = 0
    connect_failures: int = 0
    most_connections: int = 0
    unanswered: int = 0
    cpu_s: float = 0.0  # this process's CPU time while requests were due
    window_s: float = 0.0  # and the wall-clock time that took


def summary(tally: Tally, rate: float, seconds: float, budget_ms: float) -> dict[str, Any]:
    """A run as the numbers the reports show. Goodput is the 2xx answers within `budget_ms` of
    when they were due, per second of the run; p50 and p99 are of 2xx answers only (a fast 503
    is not a fast answer), the slowest of any answer; every status is counted by its code, and
    "lost" counts connections that closed before their answer."""
    statuses: dict[str, int] = {}
    ok_latencies: list[float] = []
    slowest = 0.0
    for status, latency in zip(tally.statuses, tally.latencies_s, strict=True):
        key = str(status) if status else "lost"
        statuses[key] = statuses.get(key, 0) + 1
        if status:
            slowest = max(slowest, latency)
        if 200 <= status < 300:
            ok_latencies.append(latency)
    ok_latencies.sort()
    good = sum(1 for latency in ok_latencies if latency <= budget_ms / 1000)
    answers = len(tally.statuses) - statuses.get("lost", 0)
    lags = sorted(tally.lags_s)

    def per_second(count: int) -> float:
        return round(count / seconds, 1)

    return {
        "rate": rate,
        "seconds": seconds,
        "due": tally.due,
        "sent_rps": per_second(tally.sent_in_time),
        "answered_rps": per_second(tally.answered_in_time),
        "goodput": per_second(good),
        "ok": len(ok_latencies),
        "late": len(ok_latencies) - good,
        "statuses": dict(sorted(statuses.items())),
        "share_503": round(statuses.get("503", 0) / answers, 4) if answers else 0.0,
        "unanswered": tally.unanswered,
        "p50_ms": round(percentile(ok_latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(ok_latencies, 99) * 1000, 2),
        "max_ms": round(slowest * 1000, 2),
        "lag_p99_ms": round(percentile(lags, 99) * 1000, 2),
        "waited_for_connection": tally.waited_for_connection,
        "connections": tally.most_connections,
        "connect_failures": tally.connect_failures,
        "generator_cpu": round(tally.cpu_s / tally.window_s, 2) if tally.window_s else 0.0,
    }


def requests_for(
    url: str, paths: Sequence[str], headers: Sequence[tuple[str, str]] = ()
) -> tuple[int, list[bytes]]:
    """The port of a loopback `url` and one GET request's bytes per path. Refuses any host but
    127.0.0.1 and localhost: this generator is for servers on this machine only."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme != "http" or parsed.hostname not in (LOOPBACK, "localhost"):
        raise ValueError(f"the open-loop generator targets http://127.0.0.1 only, not {url!r}")
    if not paths:
        raise ValueError("no path to request")
    port = parsed.port or 80
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    made = [
        f"GET {path} HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\n{head}\r\n".encode() for path in paths
    ]
    return port, made


class _Connection(asyncio.Protocol):
    """One keep-alive connection with at most one request outstanding."""

    def __init__(self, load: _Load) -> None:
        self.load = load
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.due: float | None = None  # of the request outstanding, None when idle

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self.load.opened(self)

    def send(self, due: float, request: bytes) -> None:
        assert self.transport is not None
        self.due = due
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._lose()

    def on_message_complete(self) -> None:
        due, self.due = self.due, None
        if due is None:
            return  # an answer to no request: nothing to count
        keep = self.parser.should_keep_alive()
        self.load.answered(self, due, self.parser.get_status_code(), reuse=keep)
        if not keep:
            self._lose()

    def connection_lost(self, exc: Exception | None) -> None:
        due, self.due = self.due, None
        self.load.closed(self, due)

    def _lose(self) -> None:
        if self.transport is not None:
            self.transport.close()


class _Load:
    """One open-loop run: the schedule, the connections, and what happened to each request."""

    def __init__(
        self, port: int, requests: Sequence[bytes], max_connections: int, seed: int
    ) -> None:
        self.port = port
        self.requests = list(requests)
        random.Random(seed).shuffle(self.requests)
        self.max_connections = max_connections
        self.tally = Tally()
        self.idle: list[_Connection] = []
        self.open: set[_Connection] = set()
        self.opening = 0
        self.backlog: deque[tuple[float, bytes]] = deque()
        self.finished: asyncio.Future[None] | None = None
        self.over = False  # the run has ended: nothing more is counted
        self.end = math.inf  # the end of the run's seconds

    async def run(self, rate: float, seconds: float) -> Tally:
        loop = asyncio.get_running_loop()
        self.finished = loop.create_future()
        schedule = due_times(rate, seconds)
        self.tally.due = len(schedule)
        for _ in range(min(WARM_CONNECTIONS, self.max_connections)):
            with contextlib.suppress(OSError):
                await loop.create_connection(lambda: _Connection(self), LOOPBACK, self.port)
        cpu = _cpu_seconds()
        start = time.perf_counter() + 0.01
        self.end = start + seconds
        count = len(self.requests)
        for number, offset in enumerate(schedule):
            due = start + offset
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            self.tally.lags_s.append(time.perf_counter() - due)
            self._dispatch(due, self.requests[number % count])
        self.tally.cpu_s = _cpu_seconds() - cpu
        self.tally.window_s = time.perf_counter() - start
        if self._done() < self.tally.due:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.finished), DRAIN_SECONDS)
        self.over = True
        self.tally.unanswered = self.tally.due - self._done()
        for connection in list(self.open):
            connection._lose()
        return self.tally

    def _done(self) -> int:
        return len(self.tally.statuses)

    def _dispatch(self, due: float, request: bytes) -> None:
        if self.idle:
            self._send(self.idle.pop(), due, request)
            return
        self.backlog.append((due, request))
        self.tally.waited_for_connection += 1
        self._connect_if_needed()

    def _connect_if_needed(self) -> None:
        """One more connection for the waiting requests, within the bound, unless enough are
        being opened already or the server cannot be reached."""
        room = self.max_connections - len(self.open) - self.opening
        if (
            room > 0
            and self.opening < len(self.backlog)
            and self.tally.connect_failures < MAX_CONNECT_FAILURES
            and not self.over
        ):
            self.opening += 1
            connecting = asyncio.get_running_loop().create_connection(
                lambda: _Connection(self), LOOPBACK, self.port
            )
            asyncio.ensure_future(connecting).add_done_callback(self._connected)

    def _connected(self, attempt: asyncio.Future[Any]) -> None:
        self.opening -= 1
        if attempt.cancelled() or attempt.exception() is not None:
            self.tally.connect_failures += 1
            self._connect_if_needed()

    def opened(self, connection: _Connection) -> None:
        if self.over:  # opened too late to carry anything
            connection._lose()
            return
        self.open.add(connection)
        self.tally.most_connections = max(self.tally.most_connections, len(self.open))
        self._free(connection)

    def _free(self, connection: _Connection) -> None:
        if self.backlog:
            self._send(connection, *self.backlog.popleft())
        else:
            self.idle.append(connection)

    def _send(self, connection: _Connection, due: float, request: bytes) -> None:
        if time.perf_counter() <= self.end:
            self.tally.sent_in_time += 1
        connection.send(due, request)

    def answered(self, connection: _Connection, due: float, status: int, reuse: bool) -> None:
        self._record(status, time.perf_counter() - due)
        if reuse:
            self._free(connection)

    def closed(self, connection: _Connection, due: float | None) -> None:
        self.open.discard(connection)
        if connection in self.idle:
            self.idle.remove(connection)
        if due is not None:
            self._record(0, time.perf_counter() - due)  # lost before its answer
        self._connect_if_needed()

    def _record(self, status: int, latency: float) -> None:
        if self.over:
            return  # ended with the run: counted as unanswered
        if status and time.perf_counter() <= self.end:
            self.tally.answered_in_time += 1
        self.tally.statuses.append(status)
        self.tally.latencies_s.append(latency)
        if (
            self.finished is not None
            and not self.finished.done()
            and self._done() >= self.tally.due
        ):
            self.finished.set_result(None)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def drive(
    url: str,
    paths: Sequence[str],
    *,
    rate: float,
    seconds: float,
    budget_ms: float,
    headers: Sequence[tuple[str, str]] = (),
    max_connections: int = MAX_CONNECTIONS,
    seed: int = 42,
) -> dict[str, Any]:
    """GET `paths` (in a shuffled cycle) of a loopback `url` at `rate` per second for `seconds`,
    open loop, and summarize what came back (see `summary`)."""
    port, requests = requests_for(url, paths, headers)
    load = _Load(port, requests, max_connections, seed)
    tally = uvloop.run(load.run(rate, seconds))
    return summary(tally, rate, seconds, budget_ms)
