"""`python -m api serve`: wait for the database, migrate it, serve HTTP with uvicorn."""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from api import logs, processes
from api.cli import migrate
from api.cli.database import wait_for_database
from api.settings import Settings


def add_parser(commands: Any) -> None:
    serve = commands.add_parser("serve", help="migrate the database, then serve HTTP with uvicorn")
    serve.add_argument("--host", help="listen address (default: HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default: PORT or 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (default: WORKERS or 1)")
    serve.add_argument(
        "--no-migrate", action="store_true", help="skip creating and migrating the database"
    )


def run(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    logs.route_stdlib_logging(settings.log_level)
    wait_for_database(settings.database_url, settings.db_connect_timeout_s)
    if not args.no_migrate:
        migrate.act(settings, "up", False)
    workers = args.workers or settings.workers
    if not settings.secret_key and workers > 1:
        # Development without a key: one random key for all the workers, so that a token one
        # of them signed is good in the others (they inherit the environment).
        os.environ["SECRET_KEY"] = secrets.token_urlsafe(32)
    with _metrics_folder(settings):
        _run_uvicorn(uvicorn, settings, args, workers)
    return 0


METRICS_FOLDER_PREFIX = "items-api-metrics-"


@contextlib.contextmanager
def _metrics_folder(settings: Settings) -> Iterator[None]:
    """Prometheus-client's multiprocess mode for every worker: a folder where each writes its
    values and where one scrape reads them all. A fresh one per run
    (`items-api-metrics-<pid>-<random>` in the temporary directory), removed when serve ends,
    also on SIGTERM; folders of runs whose process is gone (kill -9) are removed at start. A
    PROMETHEUS_MULTIPROC_DIR given is emptied of earlier runs' files first (as prometheus-client
    requires) and kept. Set before anything imports prometheus_client, which reads it once."""
    if not settings.metrics_enabled:
        yield
        return
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        for stale in Path(given).glob("*.db"):
            stale.unlink()
        yield
        return
    _remove_orphaned_metrics_folders()
    folder = tempfile.mkdtemp(prefix=f"{METRICS_FOLDER_PREFIX}{os.getpid()}-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    # uvicorn re-raises SIGTERM once it has shut down, after restoring the handler it found: with
    # the default one the process would die before the folder is removed. So the folder goes
    # first, then SIGTERM ends the process as uvicorn meant it to.
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    terminated = False
    try:
        yield
    except _Terminated:
        terminated = True
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)
    if terminated:
        signal.raise_signal(signal.SIGTERM)


class _Terminated(BaseException):
    """SIGTERM arrived once uvicorn had shut down."""


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


def _remove_orphaned_metrics_folders() -> None:
    for folder in Path(tempfile.gettempdir()).glob(f"{METRICS_FOLDER_PREFIX}*-*"):
        pid = folder.name.removeprefix(METRICS_FOLDER_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not processes.exists(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _run_uvicorn(uvicorn: Any, settings: Settings, args: argparse.Namespace, workers: int) -> None:
    from api.server import HeaderLimitedProtocol

    uvicorn.run(
        "api.asgi:app",
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=workers,
        loop="uvloop",
        # httptools, with limits on the request head's size, fields and time (api.server).
        http=HeaderLimitedProtocol,
        # No WebSocket routes: uvicorn would otherwise switch protocols on an Upgrade at once,
        # ahead of the requests before it on the connection, whose answers were then lost.
        ws="none",
        lifespan="on",
        access_log=False,  # the app writes its own structured access line
        log_config=None,  # keep the JSON logging that api.logs set up
        server_header=False,
        # X-Forwarded-For is believed only from FORWARDED_ALLOW_IPS (no one by default): from
        # anyone else it would let a client choose the address its failed logins count against.
        proxy_headers=bool(settings.forwarded_allow_ips.strip()),
        forwarded_allow_ips=settings.forwarded_allow_ips.strip() or None,
        timeout_graceful_shutdown=30,
    )
