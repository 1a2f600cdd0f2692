"""The answers to requests not served for load or time: shed on arrival, no database connection
in time, cancelled by their budget (docs/operations.md, "Bounded latency")."""

from __future__ import annotations

from blacksheep import Response

from api import budget
from api.problems import RETRY_AFTER, problem_response

# Never shed: the probes (/readyz bounds its own ping, well inside a budget), and the metrics,
# which an operator needs most while the service sheds.
NEVER_SHED = frozenset({b"/healthz", b"/readyz", b"/metrics"})
SHED_DETAIL = "the service is at its limit of concurrent requests; retry"
# The middleware's shed answer returns before it adds its usual headers: these stand in.
_SHED_HEADERS = {**RETRY_AFTER, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def shed_response() -> Response:
    """Past MAX_CONCURRENT_REQUESTS in flight in this worker. Most such requests are answered by
    the protocol (api/server.py) before they reach the app, with the same document."""
    return problem_response(503, SHED_DETAIL, headers=_SHED_HEADERS)


def busy_response() -> Response:
    """No pool connection within DB_ACQUIRE_TIMEOUT_MS or what was left of the budget."""
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
    return past_budget_response(method, content)


def past_budget_response(method: str, content: object) -> Response:
    """Past its deadline: 503, or 408 while its body has not all arrived."""
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
