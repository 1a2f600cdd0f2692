"""Finding the external load generators, with a clear message when one is missing."""

from __future__ import annotations

import glob
import os
import shutil


class MissingTool(SystemExit):
    pass


def find_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise MissingTool(
            "wrk is not installed; it generates the HTTP load.\n"
            "  Debian/Ubuntu: sudo apt-get install -y wrk\n"
            "  macOS: brew install wrk"
        )
    return path


def find_pgbench() -> str:
    path = shutil.which("pgbench")
    if path is None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pgbench"))
        path = found[-1] if found else None
    if path is None:
        raise MissingTool(
            "pgbench is not installed; it measures the database's own ceiling.\n"
            "  Debian/Ubuntu: sudo apt-get install -y postgresql-client  (or postgresql-contrib)\n"
            "  macOS: brew install libpq && brew link --force libpq"
        )
    return path


def find_valgrind() -> str:
    path = shutil.which("valgrind")
    if path is None:
        raise MissingTool(
            "valgrind is not installed; its callgrind tool counts instructions.\n"
            "  Debian/Ubuntu: sudo apt-get install -y valgrind"
        )
    return path


def find_pgbouncer() -> str:
    path = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"  # Debian puts it in sbin
    if not os.path.exists(path):
        raise MissingTool(
            "pgbouncer is not installed; `scaling` runs the service behind it too.\n"
            "  Debian/Ubuntu: sudo apt-get install -y pgbouncer\n"
            "  macOS: brew install pgbouncer"
        )
    return path
