"""Structured JSON logs with structlog, written off the event loop by a background thread."""

from __future__ import annotations

import atexit
import logging
import queue
import sys
import threading
from collections.abc import MutableMapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, BinaryIO

import orjson
import structlog

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class QueuedLineWriter:
    """Collects finished log lines on the event loop and hands them, in batches, to a daemon
    thread that writes them, so a slow stdout never blocks the loop.

    A line costs the loop one list append. The thread takes the batch when it reaches
    BATCH_LINES or every FLUSH_SECONDS and writes it in one call: under load the two threads meet
    a few times a second instead of once per line, which is what contended for the GIL.
    """

    BATCH_LINES = 256
    FLUSH_SECONDS = 0.1

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._pending: list[bytes] = []
        self._lock = threading.Lock()
        # A batch of lines, an Event to set once everything before it is written, or None to stop.
        self._batches: queue.SimpleQueue[bytes | threading.Event | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._drain, name="log-writer", daemon=True)
        self._thread.start()

    def msg(self, line: bytes) -> None:
        with self._lock:
            self._pending.append(line)
            full = len(self._pending) >= self.BATCH_LINES
        if full:
            self._hand_over()

    log = debug = info = warn = warning = error = critical = exception = fatal = msg

    def _hand_over(self) -> None:
        with self._lock:
            lines, self._pending = self._pending, []
        if lines:
            self._batches.put(b"\n".join(lines) + b"\n")

    def _drain(self) -> None:
        while True:
            try:
                entry = self._batches.get(timeout=self.FLUSH_SECONDS)
            except queue.Empty:
                self._hand_over()
                continue
            if isinstance(entry, bytes):
                self._stream.write(entry)
                if self._batches.empty():
                    self._stream.flush()
                continue
            self._stream.flush()
            if entry is None:
                return
            entry.set()

    def redirect(self, stream: BinaryIO) -> None:
        """Send the lines logged from now on to `stream` (loggers keep their writer)."""
        self.flush()
        self._stream = stream

    def flush(self, timeout: float = 2.0) -> None:
        """Wait until every line logged so far has been written."""
        self._hand_over()
        done = threading.Event()
        self._batches.put(done)
        done.wait(timeout)

    def close(self) -> None:
        self._hand_over()
        self._batches.put(None)
        self._thread.join(timeout=2)


_writer: QueuedLineWriter | None = None

# What every line logged while handling a request carries: its request_id, and the principal
# once authenticated. One dict per request, set by the middleware and filled in by auth.
request_fields: ContextVar[dict[str, str] | None] = ContextVar("request_fields", default=None)


def _merge_request_fields(
    _: Any, __: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    fields = request_fields.get()
    return {**fields, **event} if fields else event


def access(method: str, path: str, status: int, duration_ms: float, fields: dict[str, str]) -> None:
    """Write the access line of a request. It is rendered here directly with orjson, the same
    JSON as a structlog line, because structlog's processor chain was a measurable share of
    every request."""
    if _writer is not None:
        line = {
            **fields,
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
            "event": "request",
            "logger": "api.access",
            "level": "info",
            "timestamp": datetime.now(UTC),
        }
        _writer.msg(orjson.dumps(line, option=orjson.OPT_UTC_Z))


def flush() -> None:
    if _writer is not None:
        _writer.flush()


def configure(level: str = "info", stream: BinaryIO | None = None) -> None:
    """Set up structlog. Lines go to `stream` (stdout by default); a later call without a stream
    keeps the current one."""
    global _writer
    if _writer is None:
        _writer = QueuedLineWriter(stream or sys.stdout.buffer)
        atexit.register(_writer.close)
    elif stream is not None:
        _writer.redirect(stream)
    writer = _writer
    structlog.configure(
        processors=[
            _merge_request_fields,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=lambda *_: writer,
        cache_logger_on_first_use=True,
    )


def route_stdlib_logging(level: str) -> None:
    """Render uvicorn's and other libraries' stdlib log records as the same JSON lines."""
    formatter = structlog.stdlib.ProcessorFormatter(
        processor=structlog.processors.JSONRenderer(
            serializer=lambda event, **_: orjson.dumps(event).decode()
        ),
        foreign_pre_chain=[
            structlog.stdlib.add_logger_name,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(_LEVELS[level])


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
