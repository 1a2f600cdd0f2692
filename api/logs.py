"""Structured JSON logs with structlog, written off the event loop by a background thread."""

from __future__ import annotations

import logging
import queue
import sys
import threading
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
    """Hands finished log lines to a daemon thread, so a slow stdout never blocks the loop."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        # A line, an Event to set once everything before it is written, or None to stop.
        self._lines: queue.SimpleQueue[bytes | threading.Event | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._drain, name="log-writer", daemon=True)
        self._thread.start()

    def msg(self, line: bytes) -> None:
        self._lines.put(line)

    log = debug = info = warn = warning = error = critical = exception = fatal = msg

    def _drain(self) -> None:
        while (line := self._lines.get()) is not None:
            if isinstance(line, threading.Event):
                self._stream.flush()
                line.set()
                continue
            self._stream.write(line + b"\n")
            if self._lines.empty():
                self._stream.flush()

    def redirect(self, stream: BinaryIO) -> None:
        """Send the lines logged from now on to `stream` (loggers keep their writer)."""
        self.flush()
        self._stream = stream

    def flush(self, timeout: float = 2.0) -> None:
        """Wait until every line logged so far has been written."""
        done = threading.Event()
        self._lines.put(done)
        done.wait(timeout)

    def close(self) -> None:
        self._lines.put(None)
        self._thread.join(timeout=2)


_writer: QueuedLineWriter | None = None


def flush() -> None:
    if _writer is not None:
        _writer.flush()


def configure(level: str = "info", stream: BinaryIO | None = None) -> None:
    """Set up structlog. Lines go to `stream` (stdout by default); a later call without a stream
    keeps the current one."""
    global _writer
    if _writer is None:
        _writer = QueuedLineWriter(stream or sys.stdout.buffer)
    elif stream is not None:
        _writer.redirect(stream)
    writer = _writer
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
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
