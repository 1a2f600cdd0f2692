"""Shared by the locustfiles: credentials and sample data from the environment.

BENCH_API_KEY   an API key of the items API (X-API-Key); leave empty for the bare handler
BENCH_DATA      the sample directory `python -m benchmarks run` writes (benchmarks/.work/data)
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
from pathlib import Path
from typing import Any

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


# The users of a locust process walk the bulk bodies in one order, as the wrk script does, so
# that a batch rewrites its rows with new content (benchmarks/README.md, Findings item 13).
_NEXT_BATCH = itertools.count(random.randrange(max(len(BATCHES), 1)))


def some_batch() -> bytes:
    return (
        BATCHES[next(_NEXT_BATCH) % len(BATCHES)].read_bytes()
        if BATCHES
        else json.dumps([json.loads(some_body()) for _ in range(1000)]).encode()
    )


# One function per request kind; the user classes only weigh them.
_NEXT = re.compile(r"<([^>]+)>")


def get_by_id(client: Any) -> None:
    client.get(f"/api/v1/items/{some_id()}", headers=HEADERS, name="get_by_id")


def list_by_tag(client: Any) -> None:
    params = {"tags": random.choice(TAGS), "limit": 50}
    client.get("/api/v1/items", params=params, headers=HEADERS, name="list_by_tag")


def fuzzy_search(client: Any) -> None:
    params = {"q": random.choice(QUERIES), "limit": 20}
    client.get("/api/v1/items", params=params, headers=HEADERS, name="fuzzy_search")


def paging(client: Any, pages: int = 5) -> None:
    url = "/api/v1/items?limit=50"
    for _ in range(pages):
        response = client.get(url, headers=HEADERS, name="paging")
        match = _NEXT.match(response.headers.get("link") or "")
        if match is None:
            break
        url = match[1]


def create(client: Any) -> None:
    client.post("/api/v1/items", data=some_body(), headers=HEADERS, name="create")


def upsert(client: Any) -> None:
    client.put(f"/api/v1/items/{some_id()}", data=some_body(), headers=HEADERS, name="upsert")


def patch(client: Any) -> None:
    client.patch(f"/api/v1/items/{some_id()}", data=some_patch(), headers=HEADERS, name="patch")


def bulk_upsert_1000(client: Any) -> None:
    client.post("/api/v1/items/batch", data=some_batch(), headers=HEADERS, name="bulk_upsert_1000")
