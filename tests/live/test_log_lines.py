"""Every line on stdout is one JSON object: libraries' records with exceptions or odd arguments,
uvicorn's lines from every worker, migrations; nothing lost, no raw traceback on stderr. And
on a terminal in development, colored lines for a person instead."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any

import httpx

from tests import ROOT
from tests.servers import free_port, service_env, start_server

# Records as libraries really write them: asyncpg's pool warning with exc_info while the
# database is down, arguments that do not fit the message, an object as the message, values
# JSON has no type for, an exception whose str() fails, a Python warning.
ODD_RECORDS = textwrap.dedent(
    """
    import logging, socket, sys, warnings
    from api import logs

    logs.configure("info")
    logs.route_stdlib_logging("info")

    class Unprintable(Exception):
        def __str__(self):
            raise ValueError("no str")

    pool = logging.getLogger("asyncpg.pool")
    try:
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 1)")
    except OSError:
        pool.warning("Failed to restore the pool connection floor; retrying", exc_info=True)
    logging.getLogger("uvicorn.error").info("%s and %s", "only one")
    logging.getLogger("uvicorn.error").info(
        "Started server process [%d]", 1, extra={"color_message": "Started \\x1b[36m%d\\x1b[0m"}
    )
    logging.getLogger("yoyo.migrations").warning(object())
    sock = socket.socket()
    logging.getLogger("lib").warning("a socket %r and bytes %s", sock, b"\\xff")
    sock.close()
    logging.getLogger("lib").error("big %d", 2**70, extra={"blob": {1: {2, 3}}})
    try:
        raise Unprintable()
    except Unprintable:
        logging.getLogger("lib").exception("unprintable")
    warnings.warn("a library's deprecation", DeprecationWarning, stacklevel=1)
    warnings.warn("a resource warning", ResourceWarning, stacklevel=1)
    import threading
    def fail():
        raise RuntimeError("in a thread")
    worker = threading.Thread(target=fail)
    worker.start()
    worker.join()
    logs.flush()
    """
)


def json_lines(stdout: str) -> list[dict[str, Any]]:
    lines = []
    for line in stdout.splitlines():
        parsed = json.loads(line)  # fails the test on any line that is not JSON
        assert isinstance(parsed, dict), line
        lines.append(parsed)
    return lines


def test_library_records_with_odd_arguments_and_exceptions_stay_json_lines() -> None:
    done = subprocess.run(
        [sys.executable, "-W", "always", "-c", ODD_RECORDS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no "--- Logging error ---", no raw traceback
    lines = json_lines(done.stdout)
    assert len(lines) == 10, done.stdout  # none lost
    by_logger = {line["logger"]: line for line in lines}
    pool = by_logger["asyncpg.pool"]
    assert pool["level"] == "warning"
    assert pool["event"].startswith("Failed to restore the pool connection floor")
    assert "ConnectionRefusedError" in pool["exception"]
    assert "Traceback" in pool["exception"]
    uvicorn_lines = [line for line in lines if line["logger"] == "uvicorn.error"]
    assert "only one" in uvicorn_lines[0]["event"]
    # uvicorn's copy of its message with terminal colors is not a field of a JSON line.
    assert uvicorn_lines[1]["event"] == "Started server process [1]"
    assert all("color_message" not in line for line in lines)
    assert "object object at" in by_logger["yoyo.migrations"]["event"]
    big = next(line for line in lines if line["event"].startswith("big "))
    assert big["blob"] == {"1": "{2, 3}"}  # extra= fields are kept, in JSON's terms
    unprintable = [line for line in lines if line["event"] == "unprintable"]
    assert "Unprintable" in unprintable[0]["exception"]
    uncaught = [line for line in lines if line["event"] == "uncaught exception"]
    assert "RuntimeError: in a thread" in uncaught[0]["exception"]
    warned = [line for line in lines if line["logger"] == "py.warnings"]
    assert len(warned) == 2
    assert all("timestamp" in line and "level" in line for line in lines)


def test_serve_with_two_workers_writes_only_json_lines(database_url: str) -> None:
    port = free_port()
    # stdout is a pipe: JSON even in development
    env = service_env(database_url, ENVIRONMENT="development")
    process = start_server(
        env, port, "--workers", "2", stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        httpx.get(f"http://127.0.0.1:{port}/no/such/page")
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    assert stderr.decode() == ""
    lines = json_lines(stdout.decode())
    events = [line["event"] for line in lines]
    assert "migrations up to date" in events  # the migration step is a log line too
    # uvicorn's lines from the parent and from each worker process.
    started = [event for event in events if event.startswith("Started server process")]
    assert len(started) == 2, events
    assert events.count("Application startup complete.") == 2
    assert any(line.get("path") == "/no/such/page" for line in lines)  # the access line


def test_a_terminal_in_development_gets_colored_lines() -> None:
    """Through a pseudo-terminal, as a developer's shell would run it."""
    script = (
        "from api import logs\n"
        "logs.configure('info', console=logs.wants_console('development'))\n"
        "logs.get_logger('api').info('started', pool_max_size=10)\n"
        "logs.access('GET', '/healthz', 200, 0.5, {'request_id': 'r1'})\n"
        "logs.flush()\n"
    )
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=follower, stderr=follower
    )
    os.close(follower)
    output = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        elif process.poll() is not None:
            break
    process.wait(timeout=10)
    os.close(leader)
    text = output.decode()
    assert "\x1b[" in text  # ANSI colors
    assert "started" in text
    assert "pool_max_size" in text
    assert "/healthz" in text
    assert not text.lstrip().startswith("{")


def test_a_pipe_in_development_gets_json() -> None:
    script = (
        "from api import logs\n"
        "logs.configure('info', console=logs.wants_console('development'))\n"
        "logs.get_logger('api').info('started')\n"
        "logs.flush()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert json_lines(done.stdout)[0]["event"] == "started"
