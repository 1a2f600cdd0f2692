"""uvicorn's httptools protocol with limits on the request head, refusals of what cannot be
framed or read, and repairs to what uvicorn would send or read otherwise.

httptools has no limit of its own (benchmarks/README.md, "Why the code is as it is"); uvicorn's
h11 protocol bounds only the size, and its pure-Python parser costs far more per request. What
is refused, how and under which RFC: docs/api.md ("Methods"); the limits: docs/security.md
("Limits") and docs/configuration.md. uvicorn builds the protocol itself, in each worker, so the
limits are read from the settings (the environment and `.env`) there.
"""

from __future__ import annotations

import asyncio
import fcntl
import re
import socket
import struct
import termios
from collections.abc import Coroutine
from functools import cache
from typing import Any

import httptools
from uvicorn._types import ASGISendEvent
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

from api import budget
from api.budget import in_flight
from api.problems import PROBLEM_JSON, RETRY_AFTER, TITLES, problem_response
from api.refusals import NEVER_SHED, SHED_DETAIL
from api.settings import load_settings
from api.tally import shed

_HEADER_OVERHEAD = 4  # ": " and CRLF of each field line
# RFC 9112 §3.2: Host = uri-host [ ":" port ] (RFC 3986 §3.2.2: IP-literal or reg-name, which
# IPv4 addresses are spelled as too); an empty value is allowed.
_VALID_HOST = re.compile(
    rb"(?:\[(?:[0-9A-Fa-f:.]+|v[0-9A-Fa-f]+\.[A-Za-z0-9._~!$&'()*+,;=:-]+)\]"  # IP-literal
    rb"|(?:[A-Za-z0-9._~!$&'()*+,;=-]|%[0-9A-Fa-f]{2})*)"  # reg-name, IPv4address
    rb"(?::[0-9]*)?"
)
# A request line whose method is a token (RFC 9110 §9.1): one the parser does not know is 501,
# anything else it refuses is malformed, 400.
_REQUEST_LINE = re.compile(rb"(?:^|\n)[!#$%&'*+.^_`|~0-9A-Za-z-]+ [^ \r\n]+ HTTP/[0-9]\.[0-9]\r?\n")
_VERSIONS = ("1.0", "1.1")
# Requests of one connection read ahead of the one being answered (pipelined, RFC 9112 §9.3.2):
# past this many, reading pauses and the bytes already read wait unparsed (backpressure). Bytes
# are parsed this many at a time, so a read of many small requests overshoots by a few dozen.
MAX_PIPELINED_REQUESTS = 16
_PARSE_BYTES = 4096
_RESET_ON_CLOSE = struct.pack("ii", 1, 0)  # SO_LINGER on, for 0 s
# Linux's TCP states (include/net/tcp_states.h), read through TCP_INFO: a client that closed
# only its sending side leaves the socket in CLOSE_WAIT; its reset to data it no longer takes
# moves the socket to CLOSE.
_TCP_INFO = getattr(socket, "TCP_INFO", None)
_TCP_CLOSE_WAIT = 8
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_RESET_POLL_S = 0.01
# How often a streamed answer waiting on its client looks whether the client took bytes.
_PROGRESS_POLL_S = 0.05
_INT = bytes(4)
_NO_CONTENT_LENGTH = (204, 304)
# uvicorn writes every status line from this table, built from Python's http.HTTPStatus.
for _status, _title in TITLES.items():
    if _status in STATUS_LINE and _status != 499:  # 499 is nginx's, never sent
        STATUS_LINE[_status] = f"HTTP/1.1 {_status} {_title}\r\n".encode()


class HeadTooLarge(Exception):
    """The request head passed MAX_HEADER_BYTES or MAX_HEADER_FIELDS."""


class HeadRefused(Exception):
    """The request head is complete but cannot be served: the answer is `status`."""

    def __init__(self, status: int, detail: str, headers: bytes = b"") -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers


_RETRY_AFTER = b"".join(
    f"{name.lower()}: {value}\r\n".encode() for name, value in RETRY_AFTER.items()
)


@cache
def _limits() -> tuple[int, int, float, float, int]:
    settings = load_settings()
    return (
        settings.max_header_bytes,
        settings.max_header_fields,
        settings.header_read_timeout_s,
        settings.send_timeout_s,
        settings.max_concurrent_requests,
    )


@cache
def _refusal(
    status: int, detail: str, headers: bytes = b"", *, close: bool = True, head: bool = False
) -> bytes:
    """The header fields and the problem document of an answer, after its status line and Date;
    `headers` are extra field lines, each ending in CRLF. `close`: the connection closes after it;
    `head`: the answer to a HEAD request, without the document."""
    body = bytes(problem_response(status, detail).content.body)  # type: ignore[union-attr]
    return (
        headers
        + b"x-content-type-options: nosniff\r\ncontent-type: "
        + PROBLEM_JSON
        + b"\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\ncache-control: no-store\r\n"
        + (b"connection: close\r\n" if close else b"")
        + b"\r\n"
        + (b"" if head else body)
    )


class _Answered:
    """The cycle of a request the protocol answered itself (a shed one): the parser's later
    callbacks for it (its body, its end) find it complete, and the next request starts as after
    any answered one."""

    response_complete = True
    more_body = False
    disconnected = False
    keep_alive = True
    message_event = asyncio.Event()


_ANSWERED: Any = _Answered()


def refusal_of(headers: list[tuple[bytes, bytes]], http_version: str) -> HeadRefused | None:
    """Why a complete request head (lower-cased names, as uvicorn keeps them) cannot be served,
    or None."""
    if http_version not in _VERSIONS:  # HTTP/0.9 has no head to check; HTTP/2 is not this parser's
        return HeadRefused(505, "this server speaks HTTP/1.1 (and 1.0)")
    hosts: list[bytes] = []
    codings: list[bytes] = []
    content_coded = has_content = upgrade = False
    for name, value in headers:
        if name == b"connection" and b"upgrade" in value.lower():
            upgrade = True
        elif name == b"host":
            hosts.append(value)
        elif name == b"transfer-encoding":
            codings.extend(coding.strip().lower() for coding in value.split(b","))
        elif name == b"content-encoding" and value.strip().lower() not in (b"", b"identity"):
            content_coded = True
        elif name == b"content-length" and value.strip() != b"0":
            has_content = True
    if len(hosts) > 1:
        return HeadRefused(400, "the request has more than one Host header field")
    if not hosts and http_version == "1.1":
        return HeadRefused(400, "an HTTP/1.1 request must have a Host header field")
    if hosts and _VALID_HOST.fullmatch(hosts[0]) is None:
        return HeadRefused(400, "the Host header field is not a host[:port]")
    if codings and codings != [b"chunked"]:
        return HeadRefused(501, "the only transfer coding this server implements is chunked")
    if codings and upgrade:  # the parser would take the chunks for the new protocol's bytes
        return HeadRefused(
            400,
            "this server switches to no other protocol (Upgrade), and reads a body sent"
            " with Upgrade only with a Content-Length",
        )
    if content_coded and (has_content or codings):
        return HeadRefused(
            415,
            "the request content must not have a Content-Encoding",
            b"accept-encoding: identity\r\n",
        )
    return None


def _content_length(headers: list[tuple[bytes, bytes]]) -> int:
    """The Content-Length of a head the parser accepted (so at most one, and digits)."""
    for name, value in headers:
        if name == b"content-length":
            return int(value)
    return 0


class _Cycle(RequestResponseCycle):
    """uvicorn's request-response cycle, but 204 and 304 answers carry no Content-Length, and an
    answer given before the request's body has all arrived (a 401, a 413, a 503 past the budget
    while the client still sends) closes the connection: nothing bounds how long a client may
    take over the rest of a body it is no longer asked for."""

    def send(self, message: ASGISendEvent) -> Coroutine[Any, Any, None]:
        if message["type"] == "http.response.start":
            if self.more_body:
                self.keep_alive = False
            if message["status"] in _NO_CONTENT_LENGTH:
                headers = [field for field in message["headers"] if field[0] != b"content-length"]
                message = {**message, "headers": headers}
        elif self.flow.write_paused and not self.disconnected:
            return self._send_when_drained(message)
        return super().send(message)

    async def _send_when_drained(self, message: ASGISendEvent) -> None:
        """A part of a body sent while the client has not taken the previous ones.

        Only a streamed answer (an export) is in the budget's hands while it sends. Each time
        the client takes bytes (the unsent bytes, the transport's and the kernel's, shrink) its
        deadline moves a step on (api.budget.progress): the kernel's send buffer (megabytes)
        frees room in large steps, and a slow reader that keeps reading is not stalled. When the
        budget cancels it here (no byte taken in a step, or the client gone), the connection is
        aborted, so that the client sees a body cut short, and the answer's generator, finding
        the client gone, ends without its completeness line (docs/api.md, "Export")."""
        task = asyncio.current_task()
        if not budget.streaming(task):
            await super().send(message)
            return
        unsent = self._unsent_bytes()
        try:
            while self.flow.write_paused and not self.disconnected:
                try:
                    await asyncio.wait_for(self.flow.drain(), _PROGRESS_POLL_S)
                except TimeoutError:
                    now = self._unsent_bytes()
                    if now < unsent:
                        budget.progress(task)
                    unsent = now
        except asyncio.CancelledError:
            reason = budget.cancelled_by_budget()
            if reason is None:
                raise
            assert task is not None
            budget.finish(task)
            budget.abort_connection_of(self)
            self.logger.warning("streamed answer cut short: %s", reason)
            return
        await super().send(message)

    def _unsent_bytes(self) -> int:
        """The answer bytes not yet taken by the client: in the transport's buffer and in the
        kernel's send queue (SIOCOUTQ: unsent or unacknowledged)."""
        unsent = self.transport.get_write_buffer_size()
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            try:
                queued = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, _INT)
                unsent += struct.unpack("i", queued)[0]
            except OSError:
                pass
        return unsent


class HeaderLimitedProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        (
            self.max_head_bytes,
            self.max_head_fields,
            self.head_timeout,
            self._send_timeout,
            self._max_in_flight,
        ) = _limits()
        self._head_bytes = 0  # exact: request line and complete field lines of this head
        self._head_fields = 0
        self._unparsed = 0  # bytes received since this head began, complete or not
        self._reading_head = True
        self._head_timer: asyncio.TimerHandle | None = None
        # A refusal that waits for the answers to the requests before it (RFC 9112 §9.3.2).
        self._pending_refusal: bytes | None = None
        self._held = b""  # bytes read past a full pipeline, parsed once it has room
        self._head_begun = False  # the parser has begun a request whose head is incomplete
        self._upgrade_body = 0  # body bytes still to come of a request with a declined Upgrade
        self._running: RequestResponseCycle | None = None  # the request being answered
        self._send_timer: asyncio.TimerHandle | None = None
        self._unsent = 0  # the write buffer's size when the send timer was armed
        self._half_closed = False  # the client ended its side, and waits for its answers
        self._reset_timer: asyncio.TimerHandle | None = None
        self._shed_this_turn = 0  # requests _shed() answered in this call of _parse_some()

    # --- the clock -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._stop_send_timer()
        if self._reset_timer is not None:
            self._reset_timer.cancel()
            self._reset_timer = None
        # uvicorn flags only the newest request: the one being answered (pipelined requests
        # before it) would go on, and a queued one start, for a client that has gone.
        for cycle in [self._running, *(queued for queued, _ in self.pipeline)]:
            if cycle is not None and not cycle.response_complete:
                cycle.disconnected = True
                cycle.message_event.set()
        self.pipeline.clear()
        self._held = b""
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._reading_head and not self.transport.is_closing():
            self._refuse(408, f"the request head was not complete within {self.head_timeout:g} s")

    def _take_upgrade_body(self, data: bytes) -> None:
        """The body of a request whose Upgrade was declined; what follows it is not read."""
        part = data[: self._upgrade_body]
        self._upgrade_body -= len(part)
        self.cycle.body += part
        if not self._upgrade_body:
            self.cycle.more_body = False
        self.cycle.message_event.set()

    def _parse_held(self) -> None:
        held, self._held = self._held, b""
        if held and not self.transport.is_closing():
            self._parse_some(held)
            if not self._held and not self.transport.is_closing():
                self.flow.resume_reading()

    def timeout_keep_alive_handler(self) -> None:
        # A next request begun and not finished within the keep-alive time: 408, not silence.
        if self._head_begun and not self.transport.is_closing():
            self._refuse(408, "the next request's head was not complete in time")
        else:
            super().timeout_keep_alive_handler()

    # --- a client that does not read ---------------------------------------------------------

    def pause_writing(self) -> None:
        # The transport holds more than its high-water mark of unsent answers: the client must
        # keep taking them, or the connection is closed SEND_TIMEOUT_S after it last did.
        super().pause_writing()
        self._unsent = self.transport.get_write_buffer_size()
        if self._send_timer is None:
            self._send_timer = self.loop.call_later(self._send_timeout, self._send_stalled)

    def resume_writing(self) -> None:
        self._stop_send_timer()
        super().resume_writing()

    def _stop_send_timer(self) -> None:
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None

    def _send_stalled(self) -> None:
        self._send_timer = None
        unsent = self.transport.get_write_buffer_size()
        if unsent < self._unsent:  # it reads, slowly: another SEND_TIMEOUT_S
            self._unsent = unsent
            self._send_timer = self.loop.call_later(self._send_timeout, self._send_stalled)
            return
        self.logger.warning(
            "connection closed: the client took no answer bytes in %g s", self._send_timeout
        )
        # A reset, not a close: close() waits for the buffer to drain (forever), and the kernel
        # would go on holding what is unsent for a reader that never reads.
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
        self.transport.abort()

    # --- a client that half-closes -------------------------------------------------------

    def eof_received(self) -> bool | None:  # type: ignore[override]  # True: keep writing
        """The client ended its side of the stream. After a whole request it may be waiting for
        the answer (a half-close, RFC 9112 §9.6), or gone: an unsolicited 100 Continue (RFC
        9110 §15.2) tells them apart, as a closed socket answers data with a reset, which the
        socket's TCP state shows. A client still there gets its answers, then the connection
        closes; a gone one is lost, as on any close. Anything else ends the connection now."""
        cycle = self._running
        if (
            _TCP_INFO is None
            or cycle is None
            or cycle.response_complete
            or self.cycle.more_body  # the newest request's body will never be whole
            or cycle.scope["http_version"] != "1.1"
        ):
            return None
        self._half_closed = True
        if not cycle.response_started:
            self.transport.write(_CONTINUE)
        self._reset_timer = self.loop.call_later(_RESET_POLL_S, self._watch_for_reset)
        return True

    def _watch_for_reset(self) -> None:
        self._reset_timer = None
        sock = self.transport.get_extra_info("socket")
        if sock is None or self.transport.is_closing():
            return
        if sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, 1)[0] != _TCP_CLOSE_WAIT:
            self.transport.abort()  # the client is gone: its requests stop (connection_lost)
            return
        self._reset_timer = self.loop.call_later(_RESET_POLL_S, self._watch_for_reset)

    # --- the sizes -----------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._upgrade_body:
            self._take_upgrade_body(data)
            return
        if self._held:  # a full pipeline: these wait behind what was read before them
            self._held += data
            self.flow.pause_reading()
            return
        self._parse_some(data)

    def _parse_some(self, data: bytes) -> None:
        """Parse `data` a slice at a time until the pipeline is full, or until this turn of the
        event loop has shed MAX_PIPELINED_REQUESTS requests (answered here, they never fill the
        pipeline, and one connection's stream of them would hold the loop); hold the rest."""
        self._shed_this_turn = 0
        for start in range(0, len(data), _PARSE_BYTES):
            shed_enough = self._shed_this_turn >= MAX_PIPELINED_REQUESTS
            if shed_enough or len(self.pipeline) >= MAX_PIPELINED_REQUESTS:
                self._held = data[start:]
                self.flow.pause_reading()
                if shed_enough:  # nothing else resumes it: the next turn does
                    self.loop.call_soon(self._parse_held)
                return
            if not self._parse(data[start : start + _PARSE_BYTES]):
                return

    def _parse(self, data: bytes) -> bool:
        """uvicorn's data_received, with answers of this module's own to the parser's errors;
        False when parsing stopped (a refusal, an upgrade)."""
        if self._reading_head:
            self._unparsed += len(data)
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserInvalidMethodError:
            if _REQUEST_LINE.search(data) is not None:
                self._refuse(501, "the request method is not one this server implements")
            else:
                self._refuse(400, "the request line is not well-formed (RFC 9112 §3)")
            return False
        except httptools.HttpParserUpgrade as upgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                # The parser stops at an Upgrade it is not asked to perform (h2c), and reads
                # nothing more: the request is served over HTTP/1.1 (RFC 9110 §7.8 lets a server
                # ignore the header), its body read here, then the connection closes.
                self._unsupported_upgrade_warning()
                if self.cycle is not None:
                    self.cycle.keep_alive = False
                    self._upgrade_body = _content_length(self.headers)
                    if self._upgrade_body:
                        self.cycle.more_body = True  # the parser ended the message at the head
                        self._take_upgrade_body(data[upgrade.args[0] :])
            return False
        except httptools.HttpParserError as error:
            refused = error.__context__  # what a callback raised, if one did
            if isinstance(refused, HeadRefused):
                self._refuse(refused.status, refused.detail, refused.headers)
            elif isinstance(refused, HeadTooLarge):
                self._refuse_too_large()
            else:
                self._refuse(400, "the request is not well-formed HTTP/1.1 (RFC 9112)")
            return False
        # A head still incomplete past the limit: one field line may be growing without end.
        if self._reading_head and self._unparsed > self.max_head_bytes:
            self._refuse_too_large()
            return False
        if self.cycle is _ANSWERED and not self._head_begun and not self.transport.is_closing():
            # Idle after a shed answer: the keep-alive timeout runs, as after any answer.
            self._unset_keepalive_if_required()
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )
        return True

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_begun = True
        self._reading_head = True
        self._head_bytes = self._head_fields = 0
        self._arm()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._head_bytes += len(url)
        if self._head_bytes > self.max_head_bytes:
            raise HeadTooLarge

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_fields += 1
        self._head_bytes += len(name) + len(value) + _HEADER_OVERHEAD
        if self._head_fields > self.max_head_fields or self._head_bytes > self.max_head_bytes:
            raise HeadTooLarge  # httptools stops parsing; data_received answers
        if self._reading_head:
            super().on_header(name, value)
        # else a trailer field of a chunked body: discarded, never merged into the headers the
        # app reads (RFC 9110 §6.5.1), where an Authorization would have logged the request in.

    def on_headers_complete(self) -> None:
        self._reading_head = self._head_begun = False
        self._unparsed = 0
        self._disarm()
        refused = refusal_of(self.headers, self.parser.get_http_version())
        if refused is None and b"#" in self.url:  # a fragment stays with the client (RFC 9112 §3.2)
            refused = HeadRefused(400, "the request target must not have a fragment (#...)")
        if refused is not None:
            raise refused  # httptools stops parsing; data_received answers
        if len(in_flight) >= self._max_in_flight and self._shed():
            return
        super().on_headers_complete()
        if type(self.cycle) is RequestResponseCycle:  # its task has not run yet
            self.cycle.__class__ = _Cycle

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading_head = True  # what follows is the next request's head

    # --- load shedding ---------------------------------------------------------------------

    def _shed(self) -> bool:
        """Answer a request past MAX_CONCURRENT_REQUESTS in flight with 503 here, before any
        ASGI work, when nothing else must shape the answer; False leaves it to the middleware,
        which sheds it too: a request after one still being answered (answers keep their order),
        one with a body (the app closes the connection rather than read it), one with an Origin
        (the CORS headers are the app's), one asking for an Upgrade or for the connection to
        close (after a close, unread requests would reset the connection and lose answers), one
        whose path is never shed, or a client not reading its answers. Shedding here costs a
        fraction of what the app's answer does, so a worker past its limit keeps more of its
        time for the requests it admitted (docs/operations.md, "Load shedding")."""
        if (
            (self._running is not None and not self._running.response_complete)
            or self.pipeline
            or self.flow.write_paused
            or self.parser.should_upgrade()  # the parser reads nothing after it
            or self.parser.get_http_version() == "1.0"
            or not self.parser.should_keep_alive()
        ):
            return False
        if httptools.parse_url(self.url).path in NEVER_SHED:
            return False
        for name, value in self.headers:
            if name in (b"origin", b"transfer-encoding") or (
                name == b"content-length" and value.strip() != b"0"
            ):
                return False
        shed()
        self._shed_this_turn += 1
        self.server_state.total_requests += 1
        self.cycle = _ANSWERED
        head = self.parser.get_method() == b"HEAD"
        self.transport.write(self._answer(503, SHED_DETAIL, _RETRY_AFTER, close=False, head=head))
        return True

    def _answer(
        self,
        status: int,
        detail: str,
        headers: bytes = b"",
        *,
        close: bool = True,
        head: bool = False,
    ) -> bytes:
        """A whole answer of the protocol's own: status line, Date, then _refusal()'s part."""
        date = b"".join(
            name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers
        )
        return (
            STATUS_LINE[status] + date + _refusal(status, detail, headers, close=close, head=head)
        )

    def _refuse_too_large(self) -> None:
        self._refuse(
            431,
            f"the request head must not exceed {self.max_head_bytes} bytes"
            f" or {self.max_head_fields} header fields",
        )

    def _refuse(self, status: int, detail: str, headers: bytes = b"") -> None:
        self._reading_head = False
        self._disarm()
        if self.transport.is_closing() or self._pending_refusal is not None:
            return
        self.logger.warning("request refused before routing: %d %s", status, detail)
        refusal = self._answer(status, detail, headers)
        cycle = self.cycle
        if not self.pipeline and cycle is not None and cycle.more_body:
            # The running request's own body is what cannot be read: it will never be whole,
            # so that request ends here (its app sees a disconnect) and the refusal goes now.
            cycle.disconnected = True
            cycle.message_event.set()
        elif self.pipeline or (cycle is not None and not cycle.response_complete):
            # Requests before this one are still being answered: the refusal comes after them.
            self._pending_refusal = refusal
            self.flow.pause_reading()
            return
        self.transport.write(refusal)
        self.transport.close()

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        self._running = cycle
        super()._start_asgi_task(cycle, app)

    def on_response_complete(self) -> None:
        if self._pending_refusal is None or self.pipeline:
            super().on_response_complete()
            if self._held and not self.transport.is_closing():
                self.flow.pause_reading()  # uvicorn resumed it: the held bytes come first
                self.loop.call_soon(self._parse_held)
            elif self._half_closed and not self.pipeline and not self.transport.is_closing():
                self.transport.close()  # every request the client sent is answered
            return
        self.server_state.total_requests += 1
        if not self.transport.is_closing():
            self.transport.write(self._pending_refusal)
            self.transport.close()
