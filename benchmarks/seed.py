"""A fresh benchmark database, seeded fast with COPY, and the sample files the load scripts read.

Deterministic: the same --items and --seed give the same rows (ids included), so every server under
test, and pgbench, read and write the very same data.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from api.demo import (
    ADJECTIVES,
    NOUNS,
    TAGS,
    copy_items,
    item_records,
    random_item,
    random_metadata,
    random_name,
    random_tags,
)
from api.sqltools.statements import tooling


@dataclass
class Seeded:
    owner_id: uuid.UUID
    api_key: str
    ids: list[uuid.UUID]


async def seed(dsn: str, owner_id: uuid.UUID, count: int, rng_seed: int) -> list[uuid.UUID]:
    """COPY `count` items owned by `owner_id`; returns their ids in insertion order."""
    rng = random.Random(rng_seed)
    records = list(item_records(rng, count, owner_id))
    ids = [record[0] for record in records]
    connection = await asyncpg.connect(dsn)
    try:
        # Index maintenance during COPY is slower than rebuilding; 100k rows take a few seconds
        # either way, so the indexes made by the migrations are kept and the load stays simple.
        await connection.execute(tooling("bench_empty_items"))
        await copy_items(connection, iter(records))
        await connection.execute(tooling("bench_vacuum"))
        # Write out the load's dirty pages now, or a checkpoint lands in whichever measurement
        # comes first (always the items API's: it is measured first).
        await connection.execute(tooling("bench_checkpoint"))
    finally:
        await connection.close()
    return ids


def write_samples(work: Path, ids: list[uuid.UUID], rng_seed: int, batch_bodies: int) -> None:
    """Files the wrk scripts and locustfiles sample from: ids, tags, search words, bodies."""
    rng = random.Random(rng_seed + 1)
    work.mkdir(parents=True, exist_ok=True)
    sample = ids if len(ids) <= 20_000 else rng.sample(ids, 20_000)
    (work / "ids.txt").write_text("".join(f"{i}\n" for i in sample))
    (work / "tags.txt").write_text("".join(f"{t}\n" for t in TAGS))
    words = [w for w in ADJECTIVES + NOUNS if len(w) >= 4]
    # Fuzzy queries: whole words, prefixes and one-letter typos, as people type them.
    queries = []
    for _ in range(500):
        word = rng.choice(words)
        kind = rng.random()
        if kind < 0.4:
            queries.append(word)
        elif kind < 0.7:
            queries.append(word[: max(4, len(word) - 2)])
        else:
            spot = rng.randrange(1, len(word) - 1)
            queries.append(word[:spot] + word[spot + 1 :])
    (work / "queries.txt").write_text("".join(f"{q}\n" for q in queries))
    bodies = [json.dumps(random_item(rng), separators=(",", ":")) for _ in range(1000)]
    (work / "bodies.txt").write_text("".join(f"{b}\n" for b in bodies))
    patches = []
    for _ in range(500):
        choice = rng.random()
        if choice < 0.4:
            patches.append({"tags": random_tags(rng)})
        elif choice < 0.7:
            patches.append({"metadata": random_metadata(rng)})
        else:
            patches.append({"name": random_name(rng)})
    (work / "patches.txt").write_text("".join(json.dumps(p) + "\n" for p in patches))
    # Bulk upserts: disjoint sets of 1,000 seeded ids (so every server replaces the same rows,
    # and concurrent batches never deadlock), in a fixed order within each set. Each set comes in
    # VARIANTS versions with different content, written set-major per variant, so that replaying
    # the files in order always changes the rows: an ORM that skips unchanged rows (SQLAlchemy
    # does) must write as much as the service does.
    batch_dir = work / "batches"
    batch_dir.mkdir(exist_ok=True)
    for old in batch_dir.glob("*.json"):
        old.unlink()
    sets = [ids[n * 1000 : (n + 1) * 1000] for n in range(batch_bodies)]
    sets = [chunk for chunk in sets if len(chunk) == 1000]
    for variant in range(VARIANTS):
        for number, chunk in enumerate(sets):
            body = []
            for item_id in chunk:
                item = random_item(rng)
                item["id"] = str(item_id)
                body.append(item)
            path = batch_dir / f"{variant}-{number:03d}.json"
            path.write_text(json.dumps(body, separators=(",", ":")))


VARIANTS = 3
# The seeded owner's item quota (ITEMS_MAX_PER_USER, and the parameter of the inserting
# statements that the peers run): beyond any run, so the check runs and never refuses.
NO_QUOTA = 2**62


def run_seed(dsn: str, owner_id: uuid.UUID, count: int, rng_seed: int) -> list[uuid.UUID]:
    return asyncio.run(seed(dsn, owner_id, count, rng_seed))
