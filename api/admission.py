"""Admission, the first step of the middleware: shed load before any work, start the budget.

Load shedding has two parts (docs/operations.md, "Bounded latency"):
- a concurrency limit: past MAX_CONCURRENT_REQUESTS requests in flight in this worker, a request
  is answered 503 at once, before its headers are even looked at;
- a queue deadline: a request waits for a pool connection at most DB_ACQUIRE_TIMEOUT_MS, or what
  is left of its REQUEST_TIMEOUT_MS budget when that is less (queries.fair_pool.FairPool), then 503.
So no request outlives its budget, and no backlog outlives the load by more than one budget.
The probes (/healthz, /readyz) are never shed; /readyz bounds its own ping, well inside a budget.
"""

from __future__ import annotations

from blacksheep import Response

from api import budget
from api.problems import problem_response

PROBES = frozenset({b"/healthz", b"/readyz"})
RETRY_AFTER = {"Retry-After": "1"}


def shed_response() -> Response:
    return problem_response(
        503, "the service is at its limit of concurrent requests; retry", headers=RETRY_AFTER
    )


def busy_response() -> Response:
    return problem_response(503, "every database connection is busy; retry", headers=RETRY_AFTER)


# RFC 9110 section 9.2.1.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def cancelled_response(method: str, content: object) -> Response | None:
    """The answer to a request the budget cancelled, or None for any other cancellation.

    Past its deadline: 503; or 408 while its body has not all arrived, since nothing can have
    been applied without it (RFC 9110 §15.5.9). A write's statement may have committed in the
    very moment it was cancelled (its answer already on the way back), so a 503 to a write says
    that it may have been applied. Client gone: 499 (nginx's "client closed request"), which
    nobody receives but the access log records.
    """
    reason = budget.cancelled_by_budget()
    if reason is None:
        return None
    if reason == "disconnect":
        return problem_response(499, "the client closed the connection before the answer")
    if budget.body_incomplete(content):
        return problem_response(
            408, "the request's body did not arrive within its time budget; nothing was applied"
        )
    if method in SAFE_METHODS:
        detail = "the request did not complete within its time budget; retry"
    else:
        detail = (
            "the request did not complete within its time budget and may have been applied: "
            "retry it with the same Idempotency-Key, or read the item before you retry"
        )
    return problem_response(503, detail, headers=RETRY_AFTER)
