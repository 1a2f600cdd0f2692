"""Shared by the locustfiles: credentials and sample data from the environment.

BENCH_API_KEY   an API key of the items API (X-API-Key); leave empty for the bare handler
BENCH_DATA      the sample directory `python -m benchmarks run` writes (benchmarks/.work/data)
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

DATA = Path(os.environ.get("BENCH_DATA", Path(__file__).resolve().parent.parent / ".work" / "data"))
API_KEY = os.environ.get("BENCH_API_KEY", "")
HEADERS = {"Content-Type": "application/json", **({"X-API-Key": API_KEY} if API_KEY else {})}


def _lines(name: str) -> list[str]:
    path = DATA / name
    if not path.is_file():
        raise SystemExit(
            f"{path} is missing: run `python -m benchmarks run --smoke` once to seed the database "
            "and write the sample files, or set BENCH_DATA"
        )
    return [line for line in path.read_text().splitlines() if line]


IDS = _lines("ids.txt")
TAGS = _lines("tags.txt")
QUERIES = _lines("queries.txt")
BODIES = _lines("bodies.txt")
PATCHES = _lines("patches.txt")
BATCHES = sorted((DATA / "batches").glob("*.json"))


def some_id() -> str:
    return random.choice(IDS)


def some_body() -> str:
    return random.choice(BODIES)


def some_patch() -> str:
    return random.choice(PATCHES)


def some_batch() -> bytes:
    return (
        random.choice(BATCHES).read_bytes()
        if BATCHES
        else json.dumps([json.loads(some_body()) for _ in range(1000)]).encode()
    )
