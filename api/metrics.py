"""Prometheus metrics, made with prometheus-client, cheap on the hot path.

Families (docs/operations.md, "Metrics", lists them with their labels):

- `http_requests_total{method, route, status}`: requests answered; `route` is the route
  template (`/api/v1/items/{id}`), `unmatched` when no route matched, and a method outside
  RFC 9110's is `other` (bounded cardinality, whatever clients send);
- `http_request_duration_seconds{method, route}`: histogram of the time to the response;
- `http_requests_in_flight`: requests being handled now;
- `http_requests_shed_total`, `http_requests_timed_out_total`: refused by load shedding, past
  their time budget (counted by the code that does it, through `shed()` and `timed_out()`);
- `db_pool_connections{state}`: the pool's connections `in_use` and `idle`, and the requests
  `waiting` for one;
- `db_statement_duration_seconds{statement}`: histogram by sql/ statement name;
- `db_batch_size{statement}`: histogram of the keys each coalesced statement looked up;
- `login_failures_total`: password grants refused for a wrong username or password;
- with read replicas (docs/scaling.md): `db_replica_reads_total{route}` (reads served by a
  `replica`, by the primary for a token no replica had replayed in time, `primary_token`, or
  because no replica could serve, `primary_fallback`), `db_replica_retries_total` (reads that
  failed on a replica and ran again elsewhere), and per replica `db_replica_up{replica}` (1 in
  the rotation), `db_replica_lag_seconds{replica}` and `db_replica_lag_bytes{replica}`.

Cost: prometheus-client's multiprocess mode (one scrape for every uvicorn worker) writes an
mmap'd file on every change, a few percent of a GET by id (benchmarks/README.md, "Why the code
is as it is"). So a request adds to plain dicts in this process, and each worker publishes its
tallies into prometheus-client's values once a second (PUBLISH_SECONDS) and before it answers a
scrape or stops. A scrape therefore sees its own
worker exactly and the others at most a second late; no count is ever lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from bisect import bisect_left
from collections.abc import Callable
from pathlib import Path
from typing import Any

from blacksheep import Content, Request, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from api import budget, processes
from api.logs import get_logger
from api.tally import tally
from queries import replicas as replica_reads
from queries.coalesce import BATCH_SIZE_BUCKETS, batch_sizes
from queries.timing import STATEMENT_BUCKETS, statement_times

PUBLISH_SECONDS = 1.0
# Upper bounds (seconds) of the request-duration histogram; the last one is +Inf.
REQUEST_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, float("inf")
)  # fmt: skip
UNMATCHED = "unmatched"
# RFC 9110's methods (and PATCH): any other a client sends is counted as "other", so that no
# client can grow the number of series.
METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE")
)
OTHER_METHOD = "other"
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

_log = get_logger("api.metrics")

# This process's families. Without PROMETHEUS_MULTIPROC_DIR they are also what /metrics shows;
# with it, prometheus-client backs their values with files that one scrape reads for all.
REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from a request's arrival to its response, by method and route template.",
    ["method", "route"],
    buckets=REQUEST_BUCKETS,
    registry=REGISTRY,
)
IN_FLIGHT = Gauge(
    "http_requests_in_flight",
    "Requests being handled now.",
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
SHED = Counter(
    "http_requests_shed",
    "Requests refused with 503 by load shedding before any work.",
    registry=REGISTRY,
)
TIMED_OUT = Counter(
    "http_requests_timed_out",
    "Requests answered 503 because their time budget ran out.",
    registry=REGISTRY,
)
POOL_CONNECTIONS = Gauge(
    "db_pool_connections",
    "The database pool: connections in_use and idle, and requests waiting for one.",
    ["state"],
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
STATEMENT_DURATION = Histogram(
    "db_statement_duration_seconds",
    "Time of each statement, by its sql/ file name (e.g. items/get_by_id).",
    ["statement"],
    buckets=STATEMENT_BUCKETS,
    registry=REGISTRY,
)
BATCH_SIZE = Histogram(
    "db_batch_size",
    "Keys looked up by each coalesced statement (COALESCE_READS), by its sql/ file name.",
    ["statement"],
    buckets=BATCH_SIZE_BUCKETS,
    registry=REGISTRY,
)
LOGIN_FAILURES = Counter(
    "login_failures",
    "Password grants refused for a wrong username or password.",
    registry=REGISTRY,
)


REPLICA_READS = Counter(
    "db_replica_reads",
    "Reads that a replica may serve, by where they ran: replica, primary_token (no replica had"
    " replayed the Consistency-Token in time) or primary_fallback (no replica could serve).",
    ["route"],
    registry=REGISTRY,
)
REPLICA_RETRIES = Counter(
    "db_replica_retries",
    "Reads that failed on a replica (recovery conflict, lost connection) and ran elsewhere.",
    registry=REGISTRY,
)
REPLICA_UP = Gauge(
    "db_replica_up",
    "1 while the replica is in this worker's read rotation, else 0.",
    ["replica"],
    multiprocess_mode="livemin",
    registry=REGISTRY,
)
REPLICA_LAG_SECONDS = Gauge(
    "db_replica_lag_seconds",
    "How old the replica's state is: it shows every commit acknowledged before now - lag.",
    ["replica"],
    multiprocess_mode="livemax",
    registry=REGISTRY,
)
REPLICA_LAG_BYTES = Gauge(
    "db_replica_lag_bytes",
    "WAL bytes the replica had yet to replay when last polled.",
    ["replica"],
    multiprocess_mode="livemax",
    registry=REGISTRY,
)


class RequestMetrics:
    """The middleware's side: `finished()` after every request. (The requests in flight are
    those of the request budget, api/budget.py, counted when published.)"""

    __slots__ = ("_match", "_routes")

    def __init__(self) -> None:
        self._match: Callable[[str, bytes], Any] | None = None
        # The route template of each route's handler (the fallback's: UNMATCHED), found by
        # its first request: BlackSheep gives every route a handler of its own.
        self._routes: dict[object, str] = {}

    def attach(self, router: Any) -> None:
        """Look routes up in `router`."""
        self._match = router.get_match_by_method_and_path

    def route_of(self, method: str, path: bytes) -> str:
        match = self._match(method, path) if self._match is not None else None
        if match is None or match.pattern == b"*":  # no route, or the fallback's
            return UNMATCHED
        pattern: bytes = match.pattern
        return pattern.decode()

    def finished(
        self, method: str, path: bytes, handler: object, status: int, seconds: float
    ) -> None:
        """Count a request that `handler` answered with `status` after `seconds`."""
        if method not in METHODS:
            method = OTHER_METHOD
        route = self._routes.get(handler)
        if route is None:
            route = self._routes[handler] = self.route_of(method, path)
        key = (method, route, status)
        counts = tally.requests.get(key)
        if counts is None:
            counts = tally.requests[key] = [0.0] * (len(REQUEST_BUCKETS) + 1)
        counts[bisect_left(REQUEST_BUCKETS, seconds)] += 1
        counts[-1] += seconds


def _add_histogram(child: Any, counts: list[float]) -> None:
    """Add tallied observations to a prometheus-client histogram child. Its `_buckets` (one
    value per bound, not cumulative) and `_sum` are what `observe()` adds to;
    tests/http/test_private_names.py compares the exposition with observe()'s, so an upgrade that
    changes them fails there."""
    for value, count in zip(child._buckets, counts[:-1], strict=True):
        if count:
            value.inc(count)
    child._sum.inc(counts[-1])


class Publisher:
    """Moves the tallies into prometheus-client's values, once a second and on demand."""

    def __init__(self) -> None:
        self.pool: Any = None
        self.replicas: replica_reads.ReplicaSet | None = None
        self._task: asyncio.Task[None] | None = None
        # The replica counts as last published: they only grow (/readyz shows them whole).
        self._routed: dict[str, int] = {}
        self._retried = 0

    def publish(self) -> None:
        requests, tally.requests = tally.requests, {}
        durations: dict[tuple[str, str], list[float]] = {}
        for (method, route, status), counts in requests.items():
            REQUESTS.labels(method, route, str(status)).inc(sum(counts[:-1]))
            summed = durations.setdefault((method, route), [0.0] * len(counts))
            for index, count in enumerate(counts):
                summed[index] += count
        for (method, route), counts in durations.items():
            _add_histogram(REQUEST_DURATION.labels(method, route), counts)
        for name, counts in statement_times.take().items():
            _add_histogram(STATEMENT_DURATION.labels(name), counts)
        for name, counts in batch_sizes.take().items():
            _add_histogram(BATCH_SIZE.labels(name), counts)
        for counter, attribute in (
            (SHED, "shed"),
            (TIMED_OUT, "timed_out"),
            (LOGIN_FAILURES, "login_failures"),
        ):
            count = getattr(tally, attribute)
            if count:
                setattr(tally, attribute, 0)
                counter.inc(count)
        IN_FLIGHT.set(len(budget.in_flight))
        pool = self.pool
        if pool is not None:
            size, idle = pool.get_size(), pool.get_idle_size()
            POOL_CONNECTIONS.labels("in_use").set(size - idle)
            POOL_CONNECTIONS.labels("idle").set(idle)
            waiting = getattr(pool, "waiting", None)
            POOL_CONNECTIONS.labels("waiting").set(waiting() if waiting is not None else 0)
        if self.replicas is not None:
            self._publish_replicas(self.replicas)

    def _publish_replicas(self, replicas: replica_reads.ReplicaSet) -> None:
        for route, count in replica_reads.routed.items():
            if count > self._routed.get(route, 0):
                REPLICA_READS.labels(route).inc(count - self._routed.get(route, 0))
                self._routed[route] = count
        if replica_reads.retried[0] > self._retried:
            REPLICA_RETRIES.inc(replica_reads.retried[0] - self._retried)
            self._retried = replica_reads.retried[0]
        for report in replicas.report():
            name = str(report["name"])
            REPLICA_UP.labels(name).set(1 if report["state"] == "ready" else 0)
            lag_ms = report["lag_ms"]
            REPLICA_LAG_SECONDS.labels(name).set(
                float("inf") if lag_ms is None else float(lag_ms) / 1000  # type: ignore[arg-type]
            )
            lag_bytes = report["lag_bytes"]
            REPLICA_LAG_BYTES.labels(name).set(-1 if lag_bytes is None else lag_bytes)  # type: ignore[arg-type]

    def start(self, pool: Any, replicas: replica_reads.ReplicaSet | None = None) -> None:
        self.pool = pool
        self.replicas = replicas
        self._task = asyncio.get_running_loop().create_task(self._every_second())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.publish()
        self.pool = None
        if os.environ.get(MULTIPROCESS_DIR):
            from prometheus_client import multiprocess

            # This worker's live gauges (in flight, pool) leave the sum; its counters stay.
            IN_FLIGHT.set(0)
            for state in ("in_use", "idle", "waiting"):
                POOL_CONNECTIONS.labels(state).set(0)
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]

    async def _every_second(self) -> None:
        while True:
            await asyncio.sleep(PUBLISH_SECONDS)
            try:
                self.publish()
            except Exception:  # a metrics fault must never stop the service
                _log.exception("publishing metrics failed")

    async def handler(self, request: Request) -> Response:
        """GET /metrics: every worker's families in the Prometheus text format."""
        self.publish()
        body = await asyncio.to_thread(exposition)
        return Response(
            200,
            [(b"cache-control", b"no-store")],
            Content(CONTENT_TYPE_LATEST.encode(), body),
        )


def _forget_dead_workers(folder: str) -> None:
    """Drop the live gauges (in flight, pool) of workers that are gone. A worker killed outright
    (SIGKILL, the OOM killer) never ran stop(); uvicorn starts another, and every scrape would
    still add the dead one's last values to the sums. Its counters stay, as they should."""
    from prometheus_client import multiprocess

    for path in Path(folder).glob("gauge_live*_*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not processes.exists(int(pid)):
            multiprocess.mark_process_dead(int(pid))  # type: ignore[no-untyped-call]


def exposition() -> bytes:
    """The text format of every family: of all workers in multiprocess mode (it reads their
    files, hence called off the event loop), else of this process."""
    folder = os.environ.get(MULTIPROCESS_DIR)
    if folder:
        from prometheus_client import multiprocess

        _forget_dead_workers(folder)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)
