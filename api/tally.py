"""What a worker counts on its hot paths, in plain ints and lists, until api.metrics publishes it
into prometheus-client's values (once a second, and on each scrape).

Nothing here touches prometheus-client, so any process may import it: the protocol
(api/server.py) counts its sheds here, and uvicorn's supervisor imports the protocol, but must
write no metrics files (a worker's files are dropped when the worker is gone; the supervisor's
would stay, and a scrape would count them).
"""

from __future__ import annotations


class Tally:
    """What this process counted since it last published."""

    __slots__ = ("login_failures", "requests", "shed", "timed_out")

    def __init__(self) -> None:
        # (method, route, status) -> [count per REQUEST_BUCKETS bound..., sum of seconds]: one
        # lookup per request feeds both the counter and the histogram (summed over statuses).
        self.requests: dict[tuple[str, str, int], list[float]] = {}
        self.shed = 0
        self.timed_out = 0
        self.login_failures = 0


tally = Tally()


def shed() -> None:
    """Count a request refused by load shedding (api/server.py, api/middleware.py)."""
    tally.shed += 1


def timed_out() -> None:
    """Count a request answered 503 because its time budget ran out."""
    tally.timed_out += 1


def login_failed() -> None:
    """Count a password grant refused for a wrong username or password."""
    tally.login_failures += 1
