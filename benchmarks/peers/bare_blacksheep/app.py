"""The framework's floor: BlackSheep + asyncpg running the service's own SQL, nothing around it.

No authentication, no access log, no request id, no validation beyond what it takes to call the
statement: the difference between this and the items API is what those cost. The statements are
the files in sql/items/ (loaded by queries.loader). A single item's row becomes the service's own
Item Struct, encoded with one module-level msgspec encoder; list and search rows are the items'
JSON (item_json()) and pass through as raw bytes, as jsonb does. The pool comes from queries.pool,
exactly as in the service.

Run: DATABASE_URL=... BENCH_OWNER_ID=<uuid> uvicorn benchmarks.peers.bare_blacksheep.app:app
"""

from __future__ import annotations

import base64
import os
import uuid
from datetime import UTC, datetime

import asyncpg
import msgspec
from blacksheep import Application, Content, Request, Response

from benchmarks.seed import NO_QUOTA
from queries.items import BatchOutcome, Item, search_words
from queries.loader import load
from queries.pool import create_pool, fetch_planned_per_execution

# The service's own statements, loaded by the service's own loader.
GET_BY_ID = load("items/get_by_id")
CREATE = load("items/create")
UPSERT = load("items/upsert")
PATCH = load("items/patch")
UPSERT_BATCH = load("items/upsert_batch")
LIST = load("items/list_recent")
LIST_BY_TAGS_ANY = load("items/list_by_tags_any")
SEARCH_BY_NAME = load("items/search_by_name")
SEARCH_BY_WORD = load("items/search_by_word")
DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/items")
POOL_SIZE = int(os.environ.get("DB_POOL_MAX_SIZE", "10"))
OWNER = uuid.UUID(os.environ["BENCH_OWNER_ID"]) if "BENCH_OWNER_ID" in os.environ else None
PREFIX = "/api/v1/items"
JSON = b"application/json"
NEG_INF = datetime.min.replace(tzinfo=UTC)
POS_INF = datetime.max.replace(tzinfo=UTC)
MAX_UUID = uuid.UUID(int=(1 << 128) - 1)
encode = msgspec.json.Encoder().encode
decode_any = msgspec.json.Decoder().decode


class BatchResult(msgspec.Struct):
    items: list[BatchOutcome]
    created: int
    updated: int


app = Application()
pool: asyncpg.Pool


async def start(application: Application) -> None:
    global pool
    # The service's own pool factory: same codecs, server settings and statement cache, so the
    # difference measured is what sits around the statement, not how the pool is configured.
    pool = await create_pool(
        DATABASE_URL, min_size=POOL_SIZE, max_size=POOL_SIZE, statement_timeout_ms=5000
    )


async def stop(application: Application) -> None:
    await pool.close()


app.on_start += start
app.on_stop += stop


def _json(status: int, body: bytes) -> Response:
    return Response(status, None, Content(JSON, body))


def _item(row: asyncpg.Record) -> Item:
    return Item(*row[:8])


@app.router.get("/healthz")
async def healthz(request: Request) -> Response:
    return _json(200, b'{"status":"ok"}')


@app.router.get(PREFIX + "/{id}")
async def get_item(request: Request) -> Response:
    row = await pool.fetchrow(GET_BY_ID, uuid.UUID(request.route_values["id"]))
    if row is None:
        return _json(404, b"{}")
    return _json(200, encode(_item(row)))


@app.router.post(PREFIX)
async def create_item(request: Request) -> Response:
    body = decode_any(await request.read())
    row = await pool.fetchrow(
        CREATE,
        body["name"],
        body.get("description"),
        body.get("tags", []),
        body.get("metadata", {}),
        OWNER,
        NO_QUOTA,
    )
    return _json(201, encode(_item(row)))


@app.router.put(PREFIX + "/{id}")
async def put_item(request: Request) -> Response:
    body = decode_any(await request.read())
    row = await pool.fetchrow(
        UPSERT,
        uuid.UUID(request.route_values["id"]),
        body["name"],
        body.get("description"),
        body.get("tags", []),
        body.get("metadata", {}),
        OWNER,
        True,
        NO_QUOTA,
    )
    return _json(201 if row["created"] else 200, encode(_item(row)))


@app.router.patch(PREFIX + "/{id}")
async def patch_item(request: Request) -> Response:
    body = decode_any(await request.read())
    row = await pool.fetchrow(
        PATCH,
        uuid.UUID(request.route_values["id"]),
        body.get("name"),
        "description" in body,
        body.get("description"),
        body.get("tags"),
        body.get("metadata"),
        None,
        OWNER,
        True,
    )
    if row is None:
        return _json(404, b"{}")
    return _json(200, encode(_item(row)))


def _cursor(position: object, item_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(encode((position, item_id))).decode()


@app.router.get(PREFIX)
async def list_items(request: Request) -> Response:
    query = request.query
    limit = int(query.get("limit", ["50"])[0])
    cursor = query.get("cursor", [None])[0]
    after = decode_any(base64.urlsafe_b64decode(cursor)) if cursor else None
    window = (limit + 1, NEG_INF, POS_INF)
    if "q" in query:
        score, last = (after[0], uuid.UUID(after[1])) if after else (2.0, MAX_UUID)
        q = query["q"][0]
        words = search_words(q)
        statement, text = (SEARCH_BY_WORD, words[0]) if len(words) == 1 else (SEARCH_BY_NAME, q)
        # Planned for its values each time, as the service runs it (sql/README.md).
        rows = await fetch_planned_per_execution(
            pool, statement, *window, score, last, text, None, None, None, None
        )
    else:
        created, last = (POS_INF, MAX_UUID)
        if after:
            created, last = datetime.fromisoformat(after[0]), uuid.UUID(after[1])
        if "tags" in query:
            tags = query["tags"][0].split(",")
            rows = await pool.fetch(LIST_BY_TAGS_ANY, *window, created, last, tags, None)
        else:
            rows = await pool.fetch(LIST, *window, created, last, None)
    headers = None
    if len(rows) > limit:
        rows = rows[:limit]
        # Rows end with the item's JSON, after the score when searching (the other key columns
        # are null without fields: sql/README.md).
        last_item = decode_any(rows[-1][-1])
        position = rows[-1][0] if "q" in query else last_item["created_at"]
        params = (
            "&".join(f"{k}={v[0]}" for k, v in query.items() if k != "cursor")
            + "&cursor="
            + _cursor(position, last_item["id"])
        )
        headers = [(b"link", f'<{PREFIX}?{params}>; rel="next"'.encode())]
    return Response(200, headers, Content(JSON, encode([row[-1] for row in rows])))


@app.router.post(PREFIX + "/batch")
async def batch(request: Request) -> Response:
    body = decode_any(await request.read())
    for entry in body:
        entry.setdefault("id", str(uuid.uuid4()))
    async with pool.acquire() as connection, connection.transaction():
        rows = await connection.fetch(UPSERT_BATCH, body, OWNER, True)
    outcomes = [BatchOutcome(row["id"], row["created"]) for row in rows]
    created = sum(o.created for o in outcomes)
    return _json(200, encode(BatchResult(outcomes, created, len(outcomes) - created)))
