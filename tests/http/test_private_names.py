"""What the code relies on of its libraries beyond their public API: private names (a leading
underscore, a private module), module constants it rewrites, attributes of classes it subclasses,
and behaviour no documentation promises. Each test states the shape the code needs of one name
and where it is used, so that an upgrade which moves it fails here, loudly, rather than in
production or in a test about something else.

CHECKED_WITH records the releases these names were read against. An upgrade (scripts/dev.sh lock
--upgrade) fails test_the_names_were_checked_with_the_installed_releases until someone has read
the names below in the new release's source and recorded it.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import uuid
from collections import deque
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import asyncpg
import httptools
import msgspec
import pytest
from asyncpg.pool import PoolAcquireContext, PoolConnectionProxy
from blacksheep import Request
from blacksheep.contents import ASGIContent
from blacksheep.server.routing import Route
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from uvicorn.config import Config
from uvicorn.protocols.http import httptools_impl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from api import budget, metrics, server
from api.routing import ExactRoute
from api.tally import Tally
from queries.fair_pool import FairPool
from queries.pool import create_pool

CHECKED_WITH = {
    "asyncpg": "0.32.0",
    "blacksheep": "2.6.4",
    "httptools": "0.9.0",
    "msgspec": "0.23.0",
    "prometheus-client": "0.26.0",
    "uvicorn": "0.55.0",
}


@pytest.mark.parametrize("library", sorted(CHECKED_WITH))
def test_the_names_were_checked_with_the_installed_releases(library: str) -> None:
    assert version(library) == CHECKED_WITH[library], (
        f"{library} is now {version(library)}: read the names this file checks in its source"
        f" (the tests below say where each is used), then record {version(library)} in"
        " CHECKED_WITH"
    )


# --- uvicorn: api/server.py subclasses HttpToolsProtocol and RequestResponseCycle ----------------


async def _app(scope: Any, receive: Any, send: Any) -> None:
    """An ASGI app for protocols that never run one."""


@pytest.fixture
def protocols() -> Iterator[tuple[HttpToolsProtocol, server.HeaderLimitedProtocol]]:
    """uvicorn's protocol and the service's, as uvicorn makes them (before a connection)."""
    loop = asyncio.new_event_loop()
    try:
        made = []
        for kind in (HttpToolsProtocol, server.HeaderLimitedProtocol):
            config = Config(app=_app, http=kind, log_config=None)
            made.append(kind(config=config, server_state=ServerState(), app_state={}, _loop=loop))
        yield made[0], made[1]
    finally:
        loop.close()


def test_uvicorn_types_module_has_the_send_event_type() -> None:
    # api/server.py: _Cycle.send's annotation.
    from uvicorn._types import ASGISendEvent

    assert ASGISendEvent is not None


def test_uvicorn_writes_status_lines_from_its_module_table() -> None:
    # api/server.py rewrites STATUS_LINE's reason phrases, and its refusals start with them.
    table = httptools_impl.STATUS_LINE
    assert isinstance(table, dict)
    assert set(range(100, 600)) <= set(table)
    assert all(isinstance(line, bytes) and line.endswith(b"\r\n") for line in table.values())
    assert "STATUS_LINE[status_code]" in inspect.getsource(RequestResponseCycle.send)
    # The rewrite took: RFC 9110's phrases.
    assert table[413] == b"HTTP/1.1 413 Content Too Large\r\n"
    assert table[422] == b"HTTP/1.1 422 Unprocessable Content\r\n"


# HttpToolsProtocol's methods that HeaderLimitedProtocol overrides (each calls uvicorn's, but
# eof_received: uvicorn's does nothing, and so closes the connection on a half-close).
OVERRIDDEN = {
    "_start_asgi_task",
    "connection_lost",
    "connection_made",
    "data_received",
    "eof_received",
    "on_header",
    "on_headers_complete",
    "on_message_begin",
    "on_message_complete",
    "on_response_complete",
    "on_url",
    "pause_writing",
    "resume_writing",
    "timeout_keep_alive_handler",
}
# HttpToolsProtocol's methods HeaderLimitedProtocol calls, with their parameters.
CALLED = {
    "_unset_keepalive_if_required": ["self"],
    "_should_upgrade": ["self"],
    "_unsupported_upgrade_warning": ["self"],
    "_start_asgi_task": ["self", "cycle", "app"],
    "handle_websocket_upgrade": ["self"],
}


def test_uvicorn_protocol_has_the_methods_the_subclass_overrides_and_calls() -> None:
    for name in sorted(OVERRIDDEN | set(CALLED)):
        assert callable(getattr(HttpToolsProtocol, name, None)), name
    for name, parameters in CALLED.items():
        assert list(inspect.signature(getattr(HttpToolsProtocol, name)).parameters) == parameters


def test_uvicorn_protocol_has_the_attributes_the_subclass_reads(
    protocols: tuple[HttpToolsProtocol, server.HeaderLimitedProtocol],
) -> None:
    uvicorns, _ = protocols
    state = vars(uvicorns)
    for name in (
        "cycle",
        "headers",
        "transport",
        "flow",
        "loop",
        "logger",
        "server_state",
        "timeout_keep_alive",  # the shed path arms the keep-alive timer as uvicorn does
        "timeout_keep_alive_task",
    ):
        assert name in state, name
    assert isinstance(uvicorns.pipeline, deque)  # of (cycle, app), newest first
    assert isinstance(uvicorns.parser, httptools.HttpRequestParser)
    assert isinstance(uvicorns.server_state.total_requests, int)
    assert isinstance(uvicorns.server_state.default_headers, list)
    # Set per request, read by on_headers_complete (a fragment in the target).
    assert "self.url = " in inspect.getsource(HttpToolsProtocol.on_message_begin)
    # uvicorn's FlowControl, which the subclass pauses and resumes.
    assert callable(httptools_impl.FlowControl.pause_reading)
    assert callable(httptools_impl.FlowControl.resume_reading)
    # Read by the shed path: a client not taking its answers is left to the app.
    assert "self.write_paused = " in inspect.getsource(httptools_impl.FlowControl.__init__)


def test_the_subclass_shadows_no_uvicorn_name_by_accident(
    protocols: tuple[HttpToolsProtocol, server.HeaderLimitedProtocol],
) -> None:
    """A name uvicorn adds that the subclass already uses for something else (_held, _arm,
    _parse...) would silently take the place of uvicorn's."""
    uvicorns, ours = protocols
    taken = set(dir(HttpToolsProtocol)) | set(vars(uvicorns))
    own_methods = {name for name in vars(server.HeaderLimitedProtocol) if not name.startswith("__")}
    assert own_methods & taken == OVERRIDDEN
    own_attributes = set(vars(ours)) - set(vars(uvicorns))
    assert not own_attributes & taken


def test_uvicorn_cycle_has_what_the_subclass_and_the_budget_read() -> None:
    # api/server.py _Cycle (its class is swapped in on a live cycle) and api/budget.py, which
    # reaches the cycle through BlackSheep's content (receive.__self__).
    parameters = list(inspect.signature(RequestResponseCycle).parameters)
    cycle = RequestResponseCycle(**dict.fromkeys(parameters))  # type: ignore[arg-type]
    for name in (
        "more_body",
        "keep_alive",
        "response_started",
        "response_complete",
        "scope",
        "disconnected",
        "message_event",
        "body",
        "transport",  # budget.abort_connection_of
        "flow",  # _Cycle._send_when_drained
        "logger",
    ):
        assert name in vars(cycle), name
    assert cycle.more_body is True
    assert cycle.disconnected is False
    assert inspect.iscoroutinefunction(RequestResponseCycle.send)
    assert list(inspect.signature(RequestResponseCycle.send).parameters) == ["self", "message"]
    assert not hasattr(RequestResponseCycle, "__slots__")  # so _Cycle can take its place
    content = ASGIContent(cycle.receive)
    assert content.receive.__self__ is cycle
    assert budget.body_incomplete(content)
    assert not budget.client_gone(content)
    cycle.disconnected, cycle.more_body = True, False
    assert budget.client_gone(content)
    assert not budget.body_incomplete(content)


def test_uvicorn_send_waits_for_a_paused_transport_to_drain() -> None:
    # The export's backpressure (api/export.py): a body part is written only once the transport
    # is below its high-water mark again; api/server.py _Cycle waits on the same drain() itself.
    source = inspect.getsource(RequestResponseCycle.send)
    assert "if self.flow.write_paused and not self.disconnected:" in source
    assert "await self.flow.drain()" in source
    flow = httptools_impl.FlowControl
    assert inspect.iscoroutinefunction(flow.drain)
    assert "write_paused" in inspect.getsource(flow.__init__)


def test_budget_aborts_a_connection_through_the_cycles_transport() -> None:
    class Transport:
        aborted = False

        def abort(self) -> None:
            self.aborted = True

    parameters = list(inspect.signature(RequestResponseCycle).parameters)
    cycle = RequestResponseCycle(**dict.fromkeys(parameters))  # type: ignore[arg-type]
    cycle.transport = Transport()  # type: ignore[assignment]
    budget.abort_connection(ASGIContent(cycle.receive))
    assert cycle.transport.aborted  # type: ignore[attr-defined]
    assert cycle.disconnected is True


def test_uvicorn_logs_carry_a_color_message() -> None:
    # api/logs.py leaves uvicorn's `color_message` (the message with terminal colors) out.
    sources = Path(inspect.getfile(Config)).parent
    assert any('"color_message"' in path.read_text() for path in sources.glob("*.py"))


# --- httptools: api/server.py reads what its callbacks raised, and where an Upgrade stops --------


class _Refusing:
    def on_header(self, name: bytes, value: bytes) -> None:
        raise server.HeadTooLarge


def test_httptools_keeps_a_callbacks_exception_as_the_context() -> None:
    parser = httptools.HttpRequestParser(_Refusing())
    with pytest.raises(httptools.HttpParserError) as raised:
        parser.feed_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert isinstance(raised.value.__context__, server.HeadTooLarge)


def test_httptools_upgrade_says_where_the_head_ended() -> None:
    head = b"POST / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n"
    parser = httptools.HttpRequestParser(object())
    with pytest.raises(httptools.HttpParserUpgrade) as raised:
        parser.feed_data(head + b"body")
    assert raised.value.args[0] == len(head)


def test_httptools_names_an_unknown_method() -> None:
    parser = httptools.HttpRequestParser(object())
    with pytest.raises(httptools.HttpParserInvalidMethodError):
        parser.feed_data(b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n")


# --- asyncpg: queries/fair_pool.py (FairPool) ---------------------------------------------------


def _slots(kind: type) -> set[str]:
    return {name for klass in kind.__mro__ for name in getattr(klass, "__slots__", ())}


def test_asyncpg_pool_acquires_through_one_private_coroutine() -> None:
    # FairPool overrides _acquire: acquire() and every shortcut (fetch, fetchrow...) go through it.
    assert inspect.iscoroutinefunction(asyncpg.Pool._acquire)
    assert list(inspect.signature(asyncpg.Pool._acquire).parameters) == ["self", "timeout"]
    source = inspect.getsource(PoolAcquireContext)
    assert source.count("self.pool._acquire(self.timeout)") == 2  # __aenter__ and __await__
    release = inspect.signature(asyncpg.Pool.release).parameters
    assert release["timeout"].kind is inspect.Parameter.KEYWORD_ONLY


def test_fair_pool_slots_take_no_name_of_asyncpg() -> None:
    assert not (set(FairPool.__slots__) & _slots(asyncpg.Pool))


def test_asyncpg_proxy_holds_its_holder_and_connection() -> None:
    assert {"_con", "_holder"} <= set(PoolConnectionProxy.__slots__)
    assert "_protocol" in _slots(asyncpg.Connection)


async def test_a_lent_connection_shows_its_holder_and_cancellation(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=1, statement_timeout_ms=5_000)
    assert isinstance(pool, FairPool)
    try:
        async with pool.acquire() as proxy:
            assert isinstance(proxy, PoolConnectionProxy)
            holder = proxy._holder
            assert pool._lent[holder] is proxy
            assert proxy._con._protocol._is_cancelling() is False
        assert holder not in pool._lent
    finally:
        await pool.close()


def test_asyncpg_uuid_is_a_uuid() -> None:
    # api/contracts/common.py parses ids with asyncpg.pgproto.pgproto.UUID (a private module).
    from asyncpg.pgproto.pgproto import UUID

    text = "0190c3e6-5f2a-7c3b-8d4e-9f0a1b2c3d4e"
    parsed = UUID(text)
    assert isinstance(parsed, uuid.UUID)
    assert parsed == uuid.UUID(text)
    assert hash(parsed) == hash(uuid.UUID(text))
    assert str(UUID(text.upper())) == text
    with pytest.raises(ValueError, match="invalid UUID"):
        UUID("not-a-uuid")


# --- BlackSheep: api/routing.py (ExactRoute, exclude_fixed_paths) and api/middleware.py ----------


def test_blacksheep_route_builds_its_expression_in_one_overridable_method() -> None:
    method = Route._get_regex_for_pattern
    assert list(inspect.signature(method).parameters) == ["self", "pattern"]
    assert "self._get_regex_for_pattern(" in inspect.getsource(Route.__init__)
    rx, names = Route(b"/items/{id}", None)._get_regex_for_pattern(b"/items/{id}")
    assert isinstance(rx, re.Pattern)
    assert names == [b"id"]
    # The loose spellings ExactRoute rewrites: an optional trailing slash, a tail after `/?`.
    assert Route(b"/items/{id}", None).rx.pattern.endswith(b"/?$")
    assert b"/?(?P<tail>" in Route(b"/static/*", None).rx.pattern
    assert ExactRoute(b"/items/{id}", None).rx.match(b"/items/1/") is None
    assert ExactRoute(b"/static/*", None).rx.match(b"/staticapp.js") is None


def test_blacksheep_route_keeps_its_expression_in_a_writable_slot() -> None:
    # exclude_fixed_paths writes route._rx; the public `rx` reads it.
    assert "_rx" in _slots(Route)
    route = Route(b"/items/{id}", None)
    route._rx = re.compile(b"^/x$")
    assert route.rx is route._rx
    assert route.has_params is False


def test_blacksheep_request_keeps_the_raw_path_it_matches_routes_with() -> None:
    # api/middleware.py reads request._path: the path's bytes, still percent-encoded.
    request = Request("GET", b"/items/a%2Fb?q=1", None)
    assert request._path == b"/items/a%2Fb"


def test_blacksheep_request_keeps_the_raw_query() -> None:
    # api/handlers/items.py reads request._raw_query to tell a GET with a query (fields) from
    # one without, without parsing the URL: the bytes after "?", empty without one.
    assert Request("GET", b"/items/1?fields=id", None)._raw_query == b"fields=id"
    assert not Request("GET", b"/items/1", None)._raw_query


# --- prometheus_client: api/metrics.py feeds histogram children directly -------------------------


def test_histogram_values_fed_directly_equal_observations(monkeypatch: pytest.MonkeyPatch) -> None:
    """_add_histogram adds the tallies to a child's `_buckets` (one value per bound, not
    cumulative) and `_sum`, where observe() adds: the exposition is the same as if each duration
    had been observed (bounds are `le`, inclusive)."""
    durations = (0.0004, 0.001, 0.003, 0.003, 7.0, 99.0)
    registry = CollectorRegistry()
    kind: dict[str, Any] = {"documentation": "", "buckets": metrics.REQUEST_BUCKETS}
    observed = Histogram("observed_seconds", registry=registry, labelnames=["route"], **kind)
    fed = Histogram("fed_seconds", registry=registry, labelnames=["route"], **kind)
    for seconds in durations:
        observed.labels("r").observe(seconds)
    tally = Tally()
    monkeypatch.setattr(metrics, "tally", tally)
    recorder = metrics.RequestMetrics()
    for seconds in durations:
        recorder.finished("GET", b"/x", recorder, 200, seconds)
    ((counts),) = tally.requests.values()
    child = fed.labels("r")
    assert len(child._buckets) == len(metrics.REQUEST_BUCKETS)
    assert callable(child._sum.inc)
    metrics._add_histogram(child, counts)
    exposition = generate_latest(registry).decode()
    lines = [
        line
        for line in exposition.splitlines()
        if not line.startswith("#") and "_created" not in line  # when each was made
    ]
    observed_lines = sorted(line.removeprefix("observed") for line in lines if "observed" in line)
    fed_lines = sorted(line.removeprefix("fed") for line in lines if line.startswith("fed"))
    assert fed_lines == observed_lines
    assert '_seconds_bucket{le="0.001",route="r"} 2.0' in fed_lines


# --- msgspec: api/http.py finds NULs in a decoded body, skipping the Raw parts ----------------


def test_msgspec_to_builtins_hands_raw_to_the_hook() -> None:
    seen: list[Any] = []

    def hook(value: Any) -> None:
        seen.append(value)

    raw = msgspec.Raw(b'{"a": 1}')
    assert msgspec.to_builtins({"metadata": raw, "name": "x"}, enc_hook=hook) == {
        "metadata": None,
        "name": "x",
    }
    assert seen == [raw]
