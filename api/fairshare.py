"""Fair share of a worker: at most PRINCIPAL_MAX_CONCURRENCY requests of one user at once.

A user's request past that is answered 429 as soon as its credential is known, before it takes a
pool connection: a heavy user, with however many tokens and keys, waits on its own requests and
not on everyone's. The count is per worker process (as MAX_CONCURRENT_REQUESTS is), and a slot
is held from authentication until the middleware has the response (api/middleware.py).
"""

from __future__ import annotations

from blacksheep import Request

from api.problems import RETRY_AFTER, ProblemError


class PrincipalSlots:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        # str(user id) -> the requests it has in progress; request -> the user it counts for.
        self.held: dict[str, int] = {}
        self._holders: dict[Request, str] = {}

    def take(self, request: Request, user: str) -> None:
        """Count `request` against `user` (its id as text); 429 when the user is at the limit."""
        if request in self._holders:  # one slot per request, however often it asks
            return
        held = self.held.get(user, 0)
        if held >= self.limit:
            raise ProblemError(
                429,
                f"this user has {self.limit} requests in progress already"
                " (PRINCIPAL_MAX_CONCURRENCY); retry when one of them is answered",
                slug="too-many-concurrent-requests",
                headers=RETRY_AFTER,
            )
        self.held[user] = held + 1
        self._holders[request] = user

    def give_back(self, request: Request) -> None:
        """Free the slot `request` took, if any."""
        user = self._holders.pop(request, None)
        if user is None:
            return
        held = self.held[user] - 1
        if held:
            self.held[user] = held
        else:
            del self.held[user]
