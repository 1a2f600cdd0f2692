"""Which sql/ statements each route runs, recorded while tests drive an app.

install() wraps asyncpg.Connection's statement methods once per process; a wrapped method adds
the statement's sql/ name to the set of the route whose request is running (a context variable,
so that the tasks a request starts count for it). A coalesced read (queries/coalesce.py) runs in
a runner task of its own, so PointReads.get is wrapped too: it counts its statement for the
request that asks. attach() sets that variable per request.
Nothing of this is in the service: only tests call these.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import asyncpg
from blacksheep import Application, Request, Response
from blacksheep.middlewares import MiddlewareCategory

from api.sqltools.usage import Recording
from queries.coalesce import PointReads
from queries.loader import STATEMENT_NAMES

# Every Connection method that sends a statement; each takes its text first.
_METHODS = (
    "execute",
    "executemany",
    "fetch",
    "fetchmany",
    "fetchrow",
    "fetchval",
    "prepare",
    "cursor",
)
_running: ContextVar[set[str] | None] = ContextVar("running", default=None)


def install() -> None:
    for name in _METHODS:
        method = getattr(asyncpg.Connection, name)
        if getattr(method, "_logs_statements", False):
            continue
        setattr(asyncpg.Connection, name, _logging(method))
    if not getattr(PointReads.get, "_logs_statements", False):
        PointReads.get = _logging_point_reads(PointReads.get)  # type: ignore[method-assign]


def _logging_point_reads(get: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(get)
    def logged(self: PointReads, key: Any) -> Any:
        running = _running.get()
        if running is not None:
            running.add(STATEMENT_NAMES[self.query])
        return get(self, key)

    logged._logs_statements = True  # type: ignore[attr-defined]
    return logged


def _logging(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def logged(self: asyncpg.Connection, query: str, *args: Any, **kwargs: Any) -> Any:
        running = _running.get()
        if running is not None:
            name = STATEMENT_NAMES.get(query)
            if name is not None:
                running.add(name)
        return method(self, query, *args, **kwargs)

    logged._logs_statements = True  # type: ignore[attr-defined]
    return logged


class StatementLog:
    """Route label ("GET /api/v1/items/{id}") -> the statements its requests ran."""

    def __init__(self) -> None:
        self.runs: dict[str, set[str]] = {}

    def attach(self, app: Application) -> None:
        """Log the requests of `app`, which has not started yet. HEAD counts as its GET."""
        install()
        router = app.router

        async def log_route(
            request: Request, handler: Callable[[Request], Awaitable[Response]]
        ) -> Response:
            match = router.get_match_by_method_and_path(request.method, request.url.path)
            if match is None:
                return await handler(request)
            method = "GET" if request.method == "HEAD" else request.method
            label = f"{method} {match.pattern.decode()}"
            token = _running.set(self.runs.setdefault(label, set()))
            try:
                return await handler(request)
            finally:
                _running.reset(token)

        app.middlewares.append(log_route, MiddlewareCategory.INIT, priority=-1)

    async def run_as(self, label: str, work: Awaitable[Any]) -> Any:
        """Await `work`, logging its statements under `label` (what runs outside requests)."""
        install()
        token = _running.set(self.runs.setdefault(label, set()))
        try:
            return await work
        finally:
            _running.reset(token)


def unrecorded(runs: dict[str, set[str]], recording: Recording) -> list[str]:
    """What routes ran that `recording` does not list for them, one line each."""
    return [
        f"{label} ran {statement}, which sql/routes.json does not list for it: add the branch to"
        " tests/record_routes.py and run `python -m tests.record_routes`"
        for label, statements in sorted(runs.items())
        for statement in sorted(statements - set(recording.routes.get(label, ())))
    ]
