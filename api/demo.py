"""Demo data: realistic items (names, tags, metadata) for `python -m api seed`, loaded with COPY.

The benchmarks seed their database with the same generator (benchmarks/seed.py), so a new user's
data looks like what the published numbers were measured on: names of an adjective, a noun and
sometimes a model suffix; one to five of 200 tags, picked with a Zipf-like popularity; a few
metadata keys (color, size, price, sometimes material, brand, stock). Deterministic: the same
count and seed give the same rows, ids included.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import cast

import asyncpg
import orjson


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


def random_uuid(rng: random.Random) -> uuid.UUID:
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


ItemRecord = tuple[uuid.UUID, uuid.UUID | None, str, str | None, list[str], str, datetime, datetime]
# The items columns COPY fills, in the order of ItemRecord.
COLUMNS = ["id", "owner_id", "name", "description", "tags", "metadata", "created_at", "updated_at"]


def item_records(
    rng: random.Random, count: int, owner_id: uuid.UUID | None, now: datetime | None = None
) -> Iterator[ItemRecord]:
    """`count` items as COPY records, created over the year before `now` (oldest first), so
    that created_at order and keyset paging look like a real table's."""
    now = now or datetime.now(UTC)
    for number in range(count):
        item_id = random_uuid(rng)
        item = random_item(rng)
        created = now - timedelta(seconds=(count - number) * 365 * 86400 / max(count, 1))
        yield (
            item_id,
            owner_id,
            cast(str, item["name"]),
            cast(str | None, item["description"]),
            cast(list[str], item["tags"]),
            orjson.dumps(item["metadata"]).decode(),
            created,
            created,
        )


COPY_BATCH = 5_000


async def copy_items(
    connection: asyncpg.Connection,
    records: Iterator[ItemRecord],
    progress: Callable[[int], None] = lambda _: None,
) -> int:
    """COPY the records into items, COPY_BATCH rows per statement, calling `progress` with the
    rows of each batch written; returns how many rows. The search trigger fills item_tags and
    item_words as the rows arrive."""
    written = 0
    while True:
        batch = [record for _, record in zip(range(COPY_BATCH), records, strict=False)]
        if not batch:
            return written
        await connection.copy_records_to_table("items", records=batch, columns=COLUMNS)
        written += len(batch)
        progress(len(batch))
