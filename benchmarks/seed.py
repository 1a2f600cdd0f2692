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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from api.sqltools.statements import tooling


def _words(text: str) -> list[str]:
    return text.split()


ADJECTIVES = _words(
    "red green blue black white silver golden wooden steel compact portable heavy light smart "
    "classic modern vintage rustic deluxe premium basic ergonomic wireless cordless waterproof "
    "foldable adjustable organic recycled handmade industrial mini mega ultra quiet rapid"
)
NOUNS = _words(
    "chair table lamp desk shelf sofa mug kettle blender toaster drill hammer wrench saw ladder "
    "backpack jacket boots scarf gloves watch camera speaker headphones keyboard mouse monitor "
    "router charger cable notebook pen pencil marker stapler bottle pan pot knife fork spoon "
    "bicycle helmet tent stove lantern rope hammock blanket pillow mattress curtain rug mirror"
)
SUFFIXES = _words("pro max plus lite mk2 mk3 xl s one air go neo 2000 3000 x")
COLORS = _words("red green blue black white silver gold orange purple yellow grey brown")
SIZES = _words("xs s m l xl xxl")
MATERIALS = _words("wood steel aluminium plastic cotton wool leather glass ceramic bamboo")
BRANDS = _words("acme globex initech umbrella hooli vandelay stark wayne wonka cyberdyne")
TAG_COUNT = 200


def tag_vocabulary() -> list[str]:
    base = _words(
        "kitchen garden office outdoor indoor sale new clearance eco gift kids pets sport travel "
        "tools electronics furniture lighting storage decor camping fitness audio video home "
        "winter summer spring autumn bestseller limited bundle refurbished imported local"
    )
    tags = list(base)
    number = 0
    while len(tags) < TAG_COUNT:
        tags.append(f"{base[number % len(base)]}-{number // len(base) + 1}")
        number += 1
    return tags


TAGS = tag_vocabulary()
# Zipf-ish popularity: the k-th tag is picked with weight 1/(k+1).
TAG_WEIGHTS = [1.0 / (rank + 1) for rank in range(TAG_COUNT)]


@dataclass
class Seeded:
    owner_id: uuid.UUID
    api_key: str
    ids: list[uuid.UUID]


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def random_name(rng: random.Random) -> str:
    name = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
    if rng.random() < 0.5:
        name += f" {rng.choice(SUFFIXES)}"
    return name


def random_tags(rng: random.Random) -> list[str]:
    count = rng.randint(1, 5)
    return sorted(set(rng.choices(TAGS, weights=TAG_WEIGHTS, k=count)))


def random_metadata(rng: random.Random) -> dict[str, object]:
    metadata: dict[str, object] = {
        "color": rng.choice(COLORS),
        "size": rng.choice(SIZES),
        "price": round(rng.uniform(1, 500), 2),
    }
    if rng.random() < 0.5:
        metadata["material"] = rng.choice(MATERIALS)
    if rng.random() < 0.5:
        metadata["brand"] = rng.choice(BRANDS)
    if rng.random() < 0.2:
        metadata["stock"] = rng.randint(0, 1000)
    return metadata


def random_item(rng: random.Random) -> dict[str, object]:
    return {
        "name": random_name(rng),
        "description": f"A {random_name(rng)} for everyday use." if rng.random() < 0.7 else None,
        "tags": random_tags(rng),
        "metadata": random_metadata(rng),
    }


async def seed(dsn: str, owner_id: uuid.UUID, count: int, rng_seed: int) -> list[uuid.UUID]:
    """COPY `count` items owned by `owner_id`; returns their ids in insertion order."""
    rng = random.Random(rng_seed)
    now = datetime.now(UTC)
    ids: list[uuid.UUID] = []
    records = []
    for number in range(count):
        item_id = _uuid(rng)
        ids.append(item_id)
        item = random_item(rng)
        # Spread over a year, so that created_at ordering and keyset paging are realistic.
        created = now - timedelta(seconds=(count - number) * 365 * 86400 / max(count, 1))
        records.append(
            (
                item_id,
                owner_id,
                item["name"],
                item["description"],
                item["tags"],
                json.dumps(item["metadata"]),
                created,
                created,
            )
        )
    connection = await asyncpg.connect(dsn)
    try:
        # Index maintenance during COPY is slower than rebuilding; 100k rows take a few seconds
        # either way, so the indexes made by the migrations are kept and the load stays simple.
        await connection.execute(tooling("bench_empty_items"))
        await connection.copy_records_to_table(
            "items",
            records=records,
            columns=[
                "id",
                "owner_id",
                "name",
                "description",
                "tags",
                "metadata",
                "created_at",
                "updated_at",
            ],
        )
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


def run_seed(dsn: str, owner_id: uuid.UUID, count: int, rng_seed: int) -> list[uuid.UUID]:
    return asyncio.run(seed(dsn, owner_id, count, rng_seed))
