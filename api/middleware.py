"""The one middleware around every request: request id, error mapping, access log, timings."""

from __future__ import annotations

import asyncio
import itertools
import re
import secrets
from asyncio import current_task
from collections.abc import Awaitable, Callable
from time import perf_counter

import asyncpg
from blacksheep import Request, Response
from blacksheep.exceptions import HTTPException, MessageAborted

from api import budget, logs
from api.fairshare import PrincipalSlots
from api.logs import get_logger
from api.metrics import RequestMetrics
from api.problems import RETRY_AFTER, FieldError, ProblemError, from_error, problem_response
from api.refusals import (
    NEVER_SHED,
    busy_response,
    cancelled_response,
    past_budget_response,
    shed_response,
)
from api.routing import without_body
from api.tally import shed, timed_out
from queries.errors import CONNECTION_ERRORS, BudgetSpentError, PoolTimeoutError
from queries.timing import DatabaseTimer, current_timer

Handler = Callable[[Request], Awaitable[Response]]
_VALID_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
# Fresh ids: 32 hex digits, a random per-process prefix of 80 bits and a 48-bit counter below
# it; unique without a urandom call each.
_ID_COUNTER = itertools.count(secrets.randbits(80) << 48)
_errors = get_logger("api.errors")
# Security headers, pre-encoded: every response is nosniff (a JSON body is never run as a script
# or page), every authenticated one no-store (RFC 9111 section 5.2.2.5).
NOSNIFF_NAME, NOSNIFF = b"x-content-type-options", b"nosniff"
_CACHE_CONTROL, _NO_STORE = b"cache-control", b"no-store"
_REFUSED_VALUE = FieldError(field="$", message="holds a value the database cannot store")


def request_id_of(request: Request) -> str:
    """The client's X-Request-Id when it is a sane token, otherwise a fresh one."""
    given = request.get_first_header(b"x-request-id")
    if given is not None and _VALID_REQUEST_ID.match(given):
        return given.decode()
    return "%032x" % next(_ID_COUNTER)  # noqa: UP031 (an f-string's format spec costs more)


def make_middleware(
    *,
    access_log: bool,
    server_timing: bool,
    request_timeout_ms: int = 5000,
    max_concurrent_requests: int = 512,
    metrics: RequestMetrics | None = None,
    slots: PrincipalSlots,
) -> Callable[[Request, Handler], Awaitable[Response]]:
    budget_seconds = request_timeout_ms / 1000
    in_flight = budget.in_flight

    async def middleware(request: Request, handler: Handler) -> Response:
        start = perf_counter()
        # Admission: shed before any work (never a probe), start the budget (api/budget.py;
        # docs/operations.md, "Bounded latency"). Inline rather than a middleware of its own,
        # since it runs on every request (`python -m benchmarks instructions`).
        if len(in_flight) >= max_concurrent_requests and (
            request._path not in NEVER_SHED  # type: ignore[attr-defined]  # bytes: no decoding
        ):
            shed()
            return shed_response()
        request_id = request_id_of(request)
        # Every log line of this request carries its id (and, once known, the principal).
        fields = {"request_id": request_id}
        logs.request_fields.set(fields)
        timer = DatabaseTimer() if server_timing else None
        token = current_timer.set(timer) if timer is not None else None
        task = current_task()
        in_flight[task] = (start + budget_seconds, request.content)
        if budget.timer is None:
            budget.arm()
        try:
            response = await handler(request)
        except ProblemError as error:
            response = from_error(error)
        except HTTPException as error:  # raised by BlackSheep itself: its status, not its text
            response = problem_response(error.status)
        except asyncpg.DataError as error:
            # Input that passed validation but that PostgreSQL still refuses. Its text stays in
            # the log: it names the driver's parameters and the database's rules, not a field.
            _errors.warning("the database refused a value", error=type(error).__name__)
            response = problem_response(
                422,
                "a value in the request cannot be stored",
                slug="validation-error",
                errors=[_REFUSED_VALUE],
            )
        except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
            response = problem_response(
                503,
                "the write conflicted with a concurrent one; retry it",
                headers=RETRY_AFTER,
            )
        except PoolTimeoutError:
            response = busy_response()
        except BudgetSpentError:  # its coalesced read ran out its budget (queries/coalesce.py)
            timed_out()
            response = past_budget_response(request.method, request.content)
        except asyncpg.QueryCanceledError:
            timed_out()
            response = problem_response(503, "the statement timed out", headers=RETRY_AFTER)
        except CONNECTION_ERRORS as error:
            _errors.error("database unavailable", error=repr(error))
            response = problem_response(
                503, "the database is unavailable, try again", headers=RETRY_AFTER
            )
        except asyncio.CancelledError:
            # The request's budget ran out or its client left (api/budget.py); any other
            # cancellation (a shutdown) propagates.
            if (answer := cancelled_response(request.method, request.content)) is None:
                raise
            if answer.status == 503:
                timed_out()
            response = answer
        except MessageAborted:  # the client ended the connection in the middle of the body
            _errors.warning("the request's body ended early", path=request.path)
            response = problem_response(
                400, "the connection ended before the request's body was complete"
            )
        except Exception:
            _errors.exception("unhandled error", path=request.path)
            response = problem_response(500, f"internal error; request id {request_id}")
        finally:
            in_flight.pop(task, None)  # pop: a nested pass in the same task (static files) did
            slots.give_back(request)
            if token is not None:
                current_timer.reset(token)
        elapsed = perf_counter() - start
        if metrics is not None:
            # _path: the raw bytes the router matched the route with.
            path = request._path  # type: ignore[attr-defined]
            metrics.finished(request.method, path, handler, response.status, elapsed)
        response.add_header(b"x-request-id", request_id.encode())
        response.add_header(NOSNIFF_NAME, NOSNIFF)
        if "principal" in fields:  # an answer for one principal: never stored by a cache
            response.add_header(_CACHE_CONTROL, _NO_STORE)
        if timer is not None:
            response.add_header(
                b"server-timing",
                f"db;dur={timer.seconds * 1000:.2f}, total;dur={elapsed * 1000:.2f}".encode(),
            )
        if access_log:
            # Milliseconds to 3 decimals: int() and a division cost half of round(x, 3)
            # (benchmarks/README.md, "Why the code is as it is").
            duration_ms = int(elapsed * 1_000_000 + 0.5) / 1000
            logs.access(request.method, request.path, response.status, duration_ms, fields)
        if request.method == "HEAD":  # errors included: no response to HEAD has content
            without_body(response)
        return response

    return middleware
