"""The service in a subprocess, for tests that need real sockets: the one free-port helper and
the one server starter of the test suite."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import TEST_SECRET_KEY


def free_port() -> int:
    """A port of 127.0.0.1 free right now, chosen by the kernel: unique to this run."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def service_env(database_url: str, **environ: str) -> dict[str, str]:
    """This process's environment, with the service's settings for a test run on
    `database_url`, and `environ` on top."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "ENVIRONMENT": "test",
        "SECRET_KEY": TEST_SECRET_KEY,
        **environ,
    }


def start_server(
    env: Mapping[str, str],
    port: int,
    *args: str,
    command: Sequence[str] | None = None,
    log: Path | None = None,
    ready_path: str = "/readyz",
    timeout: float = 60.0,
    **popen: Any,
) -> subprocess.Popen[bytes]:
    """`python -m api serve --port PORT ARGS` (or `command`) in the environment `env`, once
    `ready_path` answers 200. Its output goes to `log`, or where `popen` says (nowhere by
    default); a server that exits or never gets ready is killed, and the test fails."""
    argv = command or [sys.executable, "-m", "api", "serve", "--port", str(port), *args]
    if log is not None:
        with log.open("wb") as out:
            process = subprocess.Popen(
                argv, env=dict(env), stdout=out, stderr=subprocess.STDOUT, **popen
            )
    else:
        popen.setdefault("stdout", subprocess.DEVNULL)
        popen.setdefault("stderr", subprocess.STDOUT)
        process = subprocess.Popen(argv, env=dict(env), **popen)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{ready_path}", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    exited = process.poll()
    stop_server(process)
    output = log.read_text()[-3000:] if log is not None else ""
    state = "did not get ready" if exited is None else f"exited with {exited}"
    raise AssertionError(f"the server {state}:\n{output}")


def stop_server(process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """SIGTERM, then SIGKILL past `timeout`."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def live_server(database_url: str, **environ: str) -> Iterator[int]:
    """Serve the migrated test database with `environ` on top; yield the port."""
    port = free_port()
    env = service_env(database_url, LOG_LEVEL="warning", **environ)
    process = start_server(env, port, "--no-migrate")
    try:
        yield port
    finally:
        process.kill()
        process.wait()
