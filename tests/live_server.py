"""`python -m api serve` in a subprocess on a free port, for tests that need real sockets."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.conftest import TEST_SECRET_KEY
from tests.test_serve import free_port


@contextmanager
def live_server(database_url: str, **environ: str) -> Iterator[int]:
    """Serve the migrated test database with `environ` on top; yield the port."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ENVIRONMENT": "test",
        "SECRET_KEY": TEST_SECRET_KEY,
        "LOG_LEVEL": "warning",
        **environ,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "api", "serve", "--no-migrate", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("server did not start")
        yield port
    finally:
        process.kill()
        process.wait()
