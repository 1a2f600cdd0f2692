"""Fair share of a worker: at most PRINCIPAL_MAX_CONCURRENCY requests of one user at once.

A user's request past that is answered 429 as soon as its credential is known, before it takes a
pool connection: a heavy user, with however many tokens and keys, waits on its own requests and
not on everyone's. The count is per worker process (as MAX_CONCURRENT_REQUESTS is), and a slot
is held from authentication until the middleware has the response (api/middleware.py).
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from api.problems import RETRY_AFTER, ProblemError


class PrincipalSlots:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held: dict[UUID, int] = {}
        self._holders: dict[asyncio.Task[Any], UUID] = {}

    def take(self, user_id: UUID) -> None:
        """Count the current request against its user; 429 when the user is at the limit."""
        task = asyncio.current_task()
        if task is None or task in self._holders:  # one slot per request, however often it asks
            return
        held = self.held.get(user_id, 0)
        if held >= self.limit:
            raise ProblemError(
                429,
                f"this user has {self.limit} requests in progress already"
                " (PRINCIPAL_MAX_CONCURRENCY); retry when one of them is answered",
                slug="too-many-concurrent-requests",
                headers=RETRY_AFTER,
            )
        self.held[user_id] = held + 1
        self._holders[task] = user_id

    def give_back(self, task: asyncio.Task[Any] | None) -> None:
        """Free the slot `task` took, if any."""
        user_id = self._holders.pop(task, None) if task is not None else None
        if user_id is None:
            return
        held = self.held[user_id] - 1
        if held:
            self.held[user_id] = held
        else:
            del self.held[user_id]
