"""The protocol's own shedding (api/server.py), turn by turn of the event loop, on a transport
that records what is written: one connection's stream of requests shed is answered a bounded
number per turn, so that it cannot hold the loop that every other connection shares."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState

from api.server import _PARSE_BYTES, MAX_PIPELINED_REQUESTS, HeaderLimitedProtocol

HEAD = b"HEAD /api/v1/items HTTP/1.1\r\nHost: t\r\n\r\n"
SHED = b"HTTP/1.1 503 "


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.reading = True
        self.closing = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def write(self, data: Any) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def get_write_buffer_size(self) -> int:
        return 0


async def _app(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("a shed request reached the app")


async def test_a_stream_of_shed_requests_is_answered_a_bounded_number_per_turn() -> None:
    protocol = HeaderLimitedProtocol(
        config=Config(app=_app, log_config=None),
        server_state=ServerState(),
        app_state={},
        _loop=asyncio.get_running_loop(),
    )
    protocol._max_in_flight = 0  # always past the limit: every request is shed
    transport = RecordingTransport()
    protocol.connection_made(transport)
    try:
        requests = 1000
        protocol.data_received(HEAD * requests)
        first_turn = transport.written.count(SHED)
        # Parsing stops at the first slice boundary past the bound.
        assert first_turn >= MAX_PIPELINED_REQUESTS
        assert first_turn <= MAX_PIPELINED_REQUESTS + _PARSE_BYTES // len(HEAD) + 1
        assert not transport.reading  # the rest waits, and no more is read meanwhile
        for _ in range(requests):
            if transport.written.count(SHED) == requests:
                break
            await asyncio.sleep(0)  # one turn of the loop
        answers = transport.written.split(b"\r\n\r\n")
        assert transport.written.count(SHED) == requests  # each once, in later turns
        assert all(not head or head.startswith(SHED) for head in answers)  # HEAD: no bodies
        assert transport.reading
    finally:
        protocol.connection_lost(None)
