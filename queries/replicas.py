"""Reads on streaming replicas, bounded in staleness, with read-your-writes by WAL position.

The design is GitLab's database load balancer (docs/scaling.md, "Read replicas"):

- Each replica has a read-only pool (`default_transaction_read_only=on`: a write sent there by
  mistake fails) and, when reads are coalesced, PointReads of its own.
- A poller per server, on a connection of its own with a short statement timeout: the
  primary's WAL insert position, kept with the time it was asked for (a short history), and
  each replica's replayed position. A replica that has replayed past the primary's position of
  time t shows every commit acknowledged before t: it is "fresh as of" the latest such t. That
  holds when the primary is idle (its position does not move, so each new sample makes the
  replica fresher) and when the poller stops hearing from the replica or the primary (no newer
  sample: the replica ages out).
- A read without a token goes to a replica fresh as of no more than `max_lag_s` ago, taken in
  turn; none such: the primary. So no read is staler than that bound.
- A read that needs a position (a Consistency-Token) goes to such a replica that has also
  replayed past it; none: it asks for an early poll and waits up to `wait_s` for one, then reads
  the primary. A position of another cluster or timeline (a failover, a restore) reads the
  primary.
- A read on a replica that fails there (a recovery conflict, SQLSTATE 40001; a lost or refused
  connection; no free connection) takes the replica out of the rotation until its next poll and
  runs again on another replica, else on the primary, within the same request budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
from collections import deque
from collections.abc import Awaitable, Callable
from time import monotonic
from typing import NamedTuple, TypeVar
from urllib.parse import urlsplit

import asyncpg
from asyncpg import exceptions as pg_errors

from queries.coalesce import PointReads
from queries.errors import CONNECTION_ERRORS, BudgetSpentError
from queries.loader import load

T = TypeVar("T")

PRIMARY_POSITION = load("replication/primary_position")
REPLAY_POSITION = load("replication/replay_position")

# The poller's statements (and its connecting) end within this; a replica that does not answer
# in time counts as unreachable (GitLab: 100 ms).
PROBE_TIMEOUT_S = 0.25
# Each server is polled every max_lag / POLLS_PER_LAG seconds, within these bounds: a healthy
# replica is then fresh as of one or two polls ago, well inside the bound.
POLLS_PER_LAG = 5
POLL_MIN_S, POLL_MAX_S = 0.01, 0.2
# A read on a replica cancelled by a recovery conflict: SQLSTATE 40001 (a snapshot, lock or
# tablespace conflict) or 40P01 (a buffer-pin deadlock); the standby may also end the session
# (a connection error). Each is retried elsewhere.
RECOVERY_CONFLICTS: tuple[type[BaseException], ...] = (
    pg_errors.SerializationError,
    pg_errors.DeadlockDetectedError,
)
_FAILURES = (*RECOVERY_CONFLICTS, *CONNECTION_ERRORS)


# A position no replica reaches: a read that needs it goes to the primary.
NEVER = 1 << 64


class Position(NamedTuple):
    """A point in a cluster's WAL: its system identifier, timeline and byte position."""

    system_identifier: int
    timeline: int
    lsn: int


# How this process routed its reads since it started, by route (api.metrics publishes the
# increase as db_replica_reads_total; /readyz shows them). replica: served by a replica;
# primary_token: a replica could not show the token's write in time; primary_fallback: no
# replica in the rotation, or every one tried failed.
routed: dict[str, int] = {"replica": 0, "primary_token": 0, "primary_fallback": 0}
# Reads that failed on a replica and ran again elsewhere, since the process started.
retried: list[int] = [0]


class Target:
    """Where a read runs: a pool, and its coalesced point reads when reads are coalesced."""

    def __init__(self, pool: asyncpg.Pool, point_reads: PointReads | None) -> None:
        self.pool = pool
        self.point_reads = point_reads


class Replica(Target):
    """One replica: its pool, its poller's connection, and what the last poll found."""

    def __init__(self, name: str, dsn: str) -> None:
        super().__init__(None, None)  # type: ignore[arg-type]  # set by ReplicaSet.start
        self.name = name
        self.dsn = dsn
        # starting (not polled yet), ready, lagging, unreachable, failed (a read failed there
        # since the last poll), not-a-standby, other-cluster.
        self.state = "starting"
        self.replayed = -1
        self.fresh_as_of = -math.inf  # monotonic seconds; see the module's docstring
        self.lag_bytes: int | None = None
        self.probe: asyncpg.Connection | None = None
        self.wake = asyncio.Event()

    def lag_seconds(self, now: float) -> float:
        return now - self.fresh_as_of


def replica_name(dsn: str) -> str:
    """host:port/database of a URL, without its user or password (logs, /readyz, metrics)."""
    parts = urlsplit(dsn)
    host = parts.hostname or "localhost"
    return f"{host}:{parts.port or 5432}{parts.path or '/'}"


class ReplicaSet:
    """The primary and its replicas, and the routing of reads between them."""

    def __init__(
        self,
        primary: Target,
        replicas: list[Replica],
        *,
        max_lag_s: float,
        wait_s: float,
        primary_dsn: str,
        probe_settings: dict[str, str],
        statement_timeouts: bool = True,
    ) -> None:
        self.primary = primary
        self.replicas = replicas
        self.max_lag_s = max_lag_s
        self.wait_s = wait_s
        self.poll_s = min(max(max_lag_s / POLLS_PER_LAG, POLL_MIN_S), POLL_MAX_S)
        self._primary_dsn = primary_dsn
        # The probes' statements are bounded by the client too (asyncpg's timeout), for
        # servers behind a pooler that refuses startup parameters (`statement_timeouts` off).
        self._probe_settings = dict(probe_settings)
        if statement_timeouts:
            self._probe_settings["statement_timeout"] = str(int(PROBE_TIMEOUT_S * 1000))
        self._primary_probe: asyncpg.Connection | None = None
        # (monotonic time asked, the primary's position then), oldest first.
        self._history: deque[tuple[float, int]] = deque()
        self.identity: tuple[int, int] | None = None  # (system identifier, timeline)
        self.primary_lsn: int | None = None
        self._turn = itertools.count()
        # Set (and replaced) whenever a poll of a replica ends: token reads wait on it.
        self._polled = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._primary_wake = asyncio.Event()

    # The routing.

    def merge(self, positions: list[Position]) -> Position | None:
        """The one position that several tokens ask for: the latest, or a position no replica
        reaches when one of them is of another cluster or timeline (or the cluster is not known
        yet): such a read goes to the primary."""
        if not positions:
            return None
        for position in positions:
            if (position.system_identifier, position.timeline) != self.identity:
                return Position(position.system_identifier, position.timeline, NEVER)
        return max(positions, key=lambda position: position.lsn)

    def _usable(self, replica: Replica, needed: Position | None, now: float) -> bool:
        return (
            replica.state == "ready"
            and now - replica.fresh_as_of <= self.max_lag_s
            and (needed is None or replica.replayed >= needed.lsn)
        )

    def pick(self, needed: Position | None, skip: tuple[Replica, ...] = ()) -> Replica | None:
        """A replica in the rotation that has replayed past `needed`, taken in turn; None."""
        now = monotonic()
        count = len(self.replicas)
        start = next(self._turn)
        for offset in range(count):
            replica = self.replicas[(start + offset) % count]
            if replica not in skip and self._usable(replica, needed, now):
                return replica
        return None

    async def read(self, needed: Position | None, use: Callable[[Target], Awaitable[T]]) -> T:
        """`use(target)` on a replica that may serve a reader who needs `needed` (None: any
        within the lag bound), else on the primary."""
        replica = self.pick(needed)
        # Behind the token, while a replica is in the rotation: wait for one to catch up, then
        # the primary. With none in the rotation the read falls back at once, without waiting.
        if replica is None and needed is not None and self.pick(None) is not None:
            if needed.lsn != NEVER and self.wait_s > 0:
                replica = await self._wait_for(needed)
            if replica is None:
                routed["primary_token"] += 1
                return await use(self.primary)
        tried: tuple[Replica, ...] = ()
        while replica is not None:
            try:
                result = await use(replica)
            except (BudgetSpentError, pg_errors.QueryCanceledError):
                raise  # the request's budget or the statement's timeout: no time for another try
            except _FAILURES:
                replica.state = "failed"  # back in the rotation when its next poll finds it well
                replica.wake.set()
                retried[0] += 1
                tried = (*tried, replica)
                replica = self.pick(needed, tried)
                continue
            routed["replica"] += 1
            return result
        routed["primary_fallback"] += 1
        return await use(self.primary)

    async def _wait_for(self, needed: Position) -> Replica | None:
        """A replica that has replayed past `needed`, polled early, within wait_s; None."""
        deadline = monotonic() + self.wait_s
        while (left := deadline - monotonic()) > 0:
            polled = self._polled
            for each in self.replicas:
                each.wake.set()
            try:
                async with asyncio.timeout(left):
                    await polled.wait()
            except TimeoutError:
                return None
            found = self.pick(needed)
            if found is not None:
                return found
        return None

    async def position(self) -> Position | None:
        """The primary's position now (after a write has committed), on the primary's pool;
        None when it cannot be read."""
        try:
            row = await self.primary.pool.fetchrow(PRIMARY_POSITION)
        except (asyncpg.PostgresError, *CONNECTION_ERRORS):  # type: ignore[misc]
            return None
        assert row is not None
        return Position(row["system_identifier"], row["timeline"], row["insert_position"])

    # The polling.

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._poll_primary(), name="replicas:primary"))
        for replica in self.replicas:
            self._tasks.append(
                loop.create_task(self._poll_replica(replica), name=f"replicas:{replica.name}")
            )

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for connection in (self._primary_probe, *(r.probe for r in self.replicas)):
            if connection is not None:
                connection.terminate()

    async def _connect(self, dsn: str) -> asyncpg.Connection:
        return await asyncpg.connect(
            dsn,
            timeout=PROBE_TIMEOUT_S * 4,
            server_settings=self._probe_settings,
            statement_cache_size=0,
        )

    async def _sleep(self, wake: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.poll_s):
                await wake.wait()
        wake.clear()

    async def _poll_primary(self) -> None:
        while True:
            asked = monotonic()
            try:
                if self._primary_probe is None or self._primary_probe.is_closed():
                    self._primary_probe = await self._connect(self._primary_dsn)
                row = await self._primary_probe.fetchrow(PRIMARY_POSITION, timeout=PROBE_TIMEOUT_S)
            except (asyncpg.PostgresError, *CONNECTION_ERRORS):  # type: ignore[misc]
                # No new sample: the replicas' freshness ages, and they leave the rotation once
                # it passes the bound (the primary's position cannot be told).
                self._drop_primary_probe()
            else:
                assert row is not None
                identity = (row["system_identifier"], row["timeline"])
                if identity != self.identity:  # a failover: the old history means nothing
                    self._history.clear()
                    self.identity = identity
                self.primary_lsn = row["insert_position"]
                self._history.append((asked, row["insert_position"]))
                # Keep the samples that can still make a replica fresh within the bound, plus
                # the one before them.
                horizon = asked - self.max_lag_s - self.poll_s
                while len(self._history) > 1 and self._history[1][0] < horizon:
                    self._history.popleft()
            await self._sleep(self._primary_wake)

    def _drop_primary_probe(self) -> None:
        probe, self._primary_probe = self._primary_probe, None
        if probe is not None:
            probe.terminate()

    def _fresh_as_of(self, replayed: int) -> float:
        """The time of the latest sample of the primary's position that `replayed` reaches."""
        for asked, lsn in reversed(self._history):
            if lsn <= replayed:
                return asked
        return -math.inf

    async def _poll_replica(self, replica: Replica) -> None:
        while True:
            try:
                if replica.probe is None or replica.probe.is_closed():
                    replica.probe = await self._connect(replica.dsn)
                row = await replica.probe.fetchrow(REPLAY_POSITION, timeout=PROBE_TIMEOUT_S)
            except (asyncpg.PostgresError, *CONNECTION_ERRORS):  # type: ignore[misc]
                replica.state = "unreachable"
                probe, replica.probe = replica.probe, None
                if probe is not None:
                    probe.terminate()
            else:
                assert row is not None
                self._judge(replica, row)
            polled, self._polled = self._polled, asyncio.Event()
            polled.set()
            await self._sleep(replica.wake)

    def _judge(self, replica: Replica, row: asyncpg.Record) -> None:
        if not row["in_recovery"] or row["replayed"] is None:
            replica.state = "not-a-standby"  # a promoted replica, or a URL of a primary
            return
        if self.identity is not None and row["system_identifier"] != self.identity[0]:
            replica.state = "other-cluster"
            return
        replica.replayed = row["replayed"]
        replica.fresh_as_of = self._fresh_as_of(replica.replayed)
        if self.primary_lsn is not None:
            replica.lag_bytes = max(self.primary_lsn - replica.replayed, 0)
        lagging = monotonic() - replica.fresh_as_of > self.max_lag_s
        replica.state = "lagging" if lagging else "ready"

    def report(self) -> list[dict[str, object]]:
        """Each replica's state and lag, for /readyz."""
        now = monotonic()
        return [
            {
                "name": replica.name,
                "state": replica.state
                if replica.state != "ready" or self._usable(replica, None, now)
                else "lagging",
                "lag_ms": None
                if replica.fresh_as_of == -math.inf
                else round(replica.lag_seconds(now) * 1000, 1),
                "lag_bytes": replica.lag_bytes,
            }
            for replica in self.replicas
        ]
