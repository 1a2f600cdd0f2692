"""An independent client: schemathesis, driven by /openapi.json, against a live instance.

uvicorn serves the app on a free port over its own database; schemathesis runs every check, on
positive and negative data, through its examples, coverage, fuzzing and stateful phases, with a
fixed seed and a per-operation budget that keeps the run within CI's time (about a minute on
two cores). Corrections of what the fuzzer cannot know are in tests/schemathesis/ (hooks and
configuration), each with its reason. Generated strings carry no U+0000: PostgreSQL's text and
jsonb cannot hold it, the schema refuses it where a pattern can say so, and metadata's rules are
the subject of their own tests (tests/http/test_items_input.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from api import migrate
from tests import ROOT
from tests.database import fresh_database
from tests.servers import free_port, start_server, stop_server

HERE = ROOT / "tests" / "schemathesis"
SECRET_KEY = "schemathesis-secret-key-0123456789abcdef-0123456789"
EMAIL = "fuzzer@example.com"
PASSWORD = "fuzzer password 0123456789"
SEED = 42
MAX_EXAMPLES = 60  # per operation and phase


@dataclass
class LiveServer:
    url: str
    token: str
    log: Path


def _token(url: str) -> str:
    form = urllib.parse.urlencode(
        {"grant_type": "password", "username": EMAIL, "password": PASSWORD}
    ).encode()
    request = urllib.request.Request(  # noqa: S310  # a loopback URL of this test
        f"{url}/api/v1/auth/token",
        data=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        token: str = json.load(response)["access_token"]
        return token


@pytest.fixture(scope="module")
def live_server(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    work = tmp_path_factory.mktemp("schemathesis")
    with fresh_database(server_url, prefix="items_fuzz") as database_url:
        migrate.up(database_url)
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "SECRET_KEY": SECRET_KEY,
            "ENVIRONMENT": "test",
            "ACCESS_LOG": "false",
            "LOG_LEVEL": "warning",
            "CORS_ALLOW_ORIGINS": "https://app.example.com",
        }
        made = subprocess.run(
            [
                sys.executable,
                "-m",
                "api",
                "users",
                "create",
                EMAIL,
                "--scopes",
                "items:read,items:write,admin",
            ],
            input=PASSWORD + "\n",
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            check=False,
        )
        assert made.returncode == 0, made.stderr
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = work / "uvicorn.log"
        command = [sys.executable, "-m", "uvicorn", "api.asgi:app", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
        process = start_server(env, port, command=command, log=log, ready_path="/healthz", cwd=ROOT)
        try:
            yield LiveServer(url, _token(url), log)
        finally:
            stop_server(process, timeout=10)


def _schemathesis() -> list[str]:
    found = shutil.which("st", path=str(Path(sys.executable).parent))
    assert found is not None, "schemathesis is not installed: pip install -e '.[test]'"
    return [found]


def test_schemathesis_finds_no_failure(live_server: LiveServer, tmp_path: Path) -> None:
    command = [
        *_schemathesis(),
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "--no-color",
        "run",
        f"{live_server.url}/openapi.json",
        "--checks",
        "all",
        "--mode",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--seed",
        str(SEED),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--generation-database",
        "none",
        "--generation-allow-x00",
        "false",
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "-H",
        f"Authorization: Bearer {live_server.token}",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.schemathesis.hooks", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-12000:]  # schemathesis exits 1 on any failure
    generated = re.search(r"(\d+) generated", output)
    assert generated is not None, output[-3000:]
    assert int(generated[1]) >= 500, output[
        -3000:
    ]  # a run that sent next to nothing proves nothing
    server_log = live_server.log.read_text()
    assert "unhandled error" not in server_log, server_log[-3000:]


def _raw(url: str, request: bytes) -> bytes:
    host, port = urllib.parse.urlsplit(url).netloc.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("path", ["/healthz", "/openapi.json", "/api/v1/items"])
def test_head_over_the_wire_has_one_content_length_and_no_body(
    live_server: LiveServer, path: str
) -> None:
    auth = f"Authorization: Bearer {live_server.token}\r\n".encode()
    answer = _raw(
        live_server.url,
        b"HEAD "
        + path.encode()
        + b" HTTP/1.1\r\nHost: test\r\n"
        + auth
        + b"Connection: close\r\n\r\n",
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.lower().split(b"\r\n")
    assert lines[0].startswith(b"http/1.1 200"), head
    lengths = [line for line in lines if line.startswith(b"content-length:")]
    assert len(lengths) == 1, head
    assert int(lengths[0].split(b":")[1]) > 0
    assert body == b""
