"""Structured JSON logs with structlog, written off the event loop by a background thread."""

from __future__ import annotations

import atexit
import logging
import queue
import sys
import threading
import traceback
import types
from collections import deque
from collections.abc import Mapping, MutableMapping
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

    A line costs the loop one append to a deque (thread-safe without a lock). The thread takes
    what has gathered every FLUSH_SECONDS, or at once when asked to flush, and writes it in one
    call: under load the two threads meet a few times a second instead of once per line, which
    is what contended for the GIL.
    """

    FLUSH_SECONDS = 0.1

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._lines: deque[bytes] = deque()
        # What structlog's loggers and the access line call with each line: the deque's own
        # append, so that a line costs no Python call (benchmarks/README.md, "Why the code is as
        # it is").
        append = self._lines.append
        self.msg = self.log = self.debug = self.info = self.warn = append
        self.warning = self.error = self.critical = self.exception = self.fatal = append
        # An Event to set once every line before it is written, or None to stop.
        self._requests: queue.SimpleQueue[threading.Event | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._drain, name="log-writer", daemon=True)
        self._thread.start()

    def _write_gathered(self) -> None:
        lines = self._lines
        # popleft, not a swap of deques: the loop appends to this one through its bound append.
        taken = [lines.popleft() for _ in range(len(lines))]
        if taken:
            self._stream.write(b"\n".join(taken) + b"\n")
            self._stream.flush()

    def _drain(self) -> None:
        while True:
            try:
                request = self._requests.get(timeout=self.FLUSH_SECONDS)
            except queue.Empty:
                self._write_gathered()
                continue
            self._write_gathered()
            if request is None:
                return
            request.set()

    def redirect(self, stream: BinaryIO) -> None:
        """Send the lines logged from now on to `stream` (loggers keep their writer)."""
        self.flush()
        self._stream = stream

    def flush(self, timeout: float = 2.0) -> None:
        """Wait until every line logged so far has been written."""
        done = threading.Event()
        self._requests.put(done)
        done.wait(timeout)

    def close(self) -> None:
        self._requests.put(None)
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


def _fallback(value: object) -> str:
    """How a value JSON has no type for is written: its repr (an exception, a socket...)."""
    return repr(value)


_JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def dumps(event: Mapping[str, Any]) -> bytes:
    """One JSON object for any event, whatever its values: unknown types become their repr,
    and a value orjson still refuses (an integer beyond 64 bits) turns the event into reprs."""
    try:
        return orjson.dumps(event, default=_fallback, option=_JSON_OPTIONS)
    except TypeError:
        return orjson.dumps({str(k): repr(v) for k, v in event.items()}, option=_JSON_OPTIONS)


# Set by configure(): how a finished event dict becomes a line.
_console: structlog.dev.ConsoleRenderer | None = None


def _render(event: dict[str, Any]) -> bytes:
    if _console is not None:
        return _console(None, "", event).encode()
    return dumps(event)


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
        if _console is None:
            _writer.msg(orjson.dumps(line, option=orjson.OPT_UTC_Z))
        else:
            _writer.msg(_render(line))


def flush() -> None:
    if _writer is not None:
        _writer.flush()


def wants_console(environment: str, stream: Any = None) -> bool:
    """Colored, human-readable lines: in development, when stdout is a terminal. JSON lines
    everywhere else (a pipe, a file, a container log, production)."""
    out = sys.stdout if stream is None else stream
    try:
        return environment == "development" and bool(out.isatty())
    except (AttributeError, ValueError):
        return False


def configure(level: str = "info", stream: BinaryIO | None = None, console: bool = False) -> None:
    """Set up structlog. Lines go to `stream` (stdout by default); a later call without a stream
    keeps the current one. `console` renders lines for a person (structlog's ConsoleRenderer,
    colored) instead of JSON."""
    global _writer, _console
    if _writer is None:
        _writer = QueuedLineWriter(stream or sys.stdout.buffer)
        atexit.register(_writer.close)
    elif stream is not None:
        _writer.redirect(stream)
    writer = _writer
    _console = structlog.dev.ConsoleRenderer(colors=True) if console else None
    renderer: Any = (
        _console
        if _console is not None
        else structlog.processors.JSONRenderer(
            serializer=lambda event, **_: dumps(event),
        )
    )
    structlog.configure(
        processors=[
            _merge_request_fields,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *([] if console else [structlog.processors.format_exc_info]),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=lambda *_: _EncodingWriter(writer) if console else writer,
        cache_logger_on_first_use=True,
    )


class _EncodingWriter:
    """The writer for the console renderer, which returns str where JSONRenderer gives bytes."""

    def __init__(self, writer: QueuedLineWriter) -> None:
        self._writer = writer

    def msg(self, line: str | bytes) -> None:
        self._writer.msg(line.encode() if isinstance(line, str) else line)

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


class LineHandler(logging.Handler):
    """Every stdlib record (uvicorn, asyncpg, yoyo, warnings) as one line through the same
    writer as structlog's: JSON, or the console rendering. A record whose message cannot be
    formatted (arguments that do not fit it), with an exception, or with values JSON has no
    type for is still one line, never a raw traceback on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        writer = _writer
        if writer is None:
            return
        try:
            writer.msg(_render(record_event(record)))
        except Exception:  # never logging's "--- Logging error ---" on stderr
            writer.msg(dumps({"event": "unrenderable log record", "logger": record.name}))


_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's copy of the message with terminal colors, for its own formatter
}


def record_event(record: logging.LogRecord) -> dict[str, Any]:
    """A stdlib record as the event dict a structlog line carries."""
    try:
        message = record.getMessage()
    except Exception:  # e.g. "%s %s" with one argument
        message = f"{record.msg!r} % {record.args!r}"
    event: dict[str, Any] = {
        **(request_fields.get() or {}),
        "event": message,
        "logger": record.name,
        "level": record.levelname.lower(),
        "timestamp": datetime.fromtimestamp(record.created, UTC),
    }
    for name, value in record.__dict__.items():
        if name not in _RECORD_ATTRIBUTES and name not in event:
            event[name] = value  # what the caller passed as extra=
    if record.exc_info and record.exc_info[0] is not None:
        event["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
    elif record.exc_text:
        event["exception"] = record.exc_text
    if record.stack_info:
        event["stack"] = record.stack_info
    return event


def _log_uncaught(
    kind: type[BaseException], error: BaseException, trace: types.TracebackType | None
) -> None:
    logging.getLogger("api").critical("uncaught exception", exc_info=(kind, error, trace))
    flush()


def route_stdlib_logging(level: str) -> None:
    """Send every stdlib logger's records, and Python's warnings, through LineHandler. Quiet
    libraries' step-by-step info (yoyo logs each migration step) unless LOG_LEVEL=debug."""
    root = logging.getLogger()
    root.handlers = [LineHandler()]
    root.setLevel(_LEVELS[level])
    logging.captureWarnings(True)
    # An exception nothing caught, in the main thread or another one: a line, not a traceback.
    sys.excepthook = _log_uncaught
    threading.excepthook = lambda args: _log_uncaught(
        args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback
    )
    logging.getLogger("yoyo").setLevel(logging.DEBUG if level == "debug" else logging.WARNING)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
