"""uvicorn's httptools protocol with limits on the request head (OWASP ASVS V13, RFC 9110).

httptools has no limit of its own: a 100 MB header line was buffered for 29 s while other
requests stalled, 10,000 header fields were accepted, and a client that sent header lines
slowly was never disconnected. This subclass of uvicorn's HttpToolsProtocol (chosen over
uvicorn's h11 implementation, whose pure-Python parser costs far more per request, and whose
h11_max_incomplete_event_size bounds only the size) adds, per request:

- MAX_HEADER_BYTES (16 KiB): the request line and header fields together; beyond it, or beyond
  MAX_HEADER_FIELDS (100) fields, the answer is 431 and the connection is closed (RFC 6585 §5);
- HEADER_READ_TIMEOUT_S (30 s): a connection whose request head is not complete that long after
  it opened, or after the request's first byte, gets 408 and is closed (RFC 9110 §15.5.9).

uvicorn builds the protocol itself, in each worker, so the limits are read from the settings
(the environment and `.env`) there.
"""

from __future__ import annotations

import asyncio
from functools import cache
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from api.problems import PROBLEM_JSON, problem_response
from api.settings import load_settings

_HEADER_OVERHEAD = 4  # ": " and CRLF of each field line


class HeadTooLarge(Exception):
    """The request head passed MAX_HEADER_BYTES or MAX_HEADER_FIELDS."""


@cache
def _limits() -> tuple[int, int, float]:
    settings = load_settings()
    return settings.max_header_bytes, settings.max_header_fields, settings.header_read_timeout_s


@cache
def _refusal(status: int, detail: str) -> bytes:
    """A complete HTTP/1.1 answer that closes the connection, with a problem document."""
    body = bytes(problem_response(status, detail).content.body)  # type: ignore[union-attr]
    return (
        STATUS_LINE[status]
        + b"content-type: "
        + PROBLEM_JSON
        + b"\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\nconnection: close\r\n\r\n"
        + body
    )


class HeaderLimitedProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_head_bytes, self.max_head_fields, self.head_timeout = _limits()
        self._head_bytes = 0  # exact: request line and complete field lines of this head
        self._head_fields = 0
        self._unparsed = 0  # bytes received since this head began, complete or not
        self._reading_head = True
        self._head_timer: asyncio.TimerHandle | None = None

    # --- the clock -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
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

    # --- the sizes -----------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._reading_head:
            self._unparsed += len(data)
        super().data_received(data)
        # A head still incomplete past the limit: one field line may be growing without end.
        if self._reading_head and self._unparsed > self.max_head_bytes:
            self._refuse_too_large()

    def on_message_begin(self) -> None:
        super().on_message_begin()
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
            raise HeadTooLarge  # httptools stops parsing; uvicorn then calls send_400_response
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._unparsed = 0
        self._disarm()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading_head = True  # what follows is the next request's head

    def send_400_response(self, msg: str) -> None:
        if self._head_fields > self.max_head_fields or self._head_bytes > self.max_head_bytes:
            self._refuse_too_large()
        else:
            super().send_400_response(msg)

    def _refuse_too_large(self) -> None:
        self._refuse(
            431,
            f"the request head must not exceed {self.max_head_bytes} bytes"
            f" or {self.max_head_fields} header fields",
        )

    def _refuse(self, status: int, detail: str) -> None:
        self._reading_head = False
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(_refusal(status, detail))
            self.transport.close()
