"""GET /api/v1/items/export in process: the list's filters, sort and refusals, both formats (CSV
quoting included), the completeness line, one snapshot across chunks, a chunk fetched only once
the previous one was sent, and the bounds on exports at once (tests/live/test_export.py: over
real sockets, the budget per stall and a client that leaves)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from api import budget, export
from api.settings import Settings
from queries.items import FIELDS, SORTS
from tests.conftest import CLIENT_ADDRESS, Account, MakeUser, own_app, problem
from tests.database import wait_until_ended

ITEMS = "/api/v1/items"
EXPORT = f"{ITEMS}/export"


@pytest.fixture
def small_chunks() -> Iterator[None]:
    """Two items a chunk: a few items make an export of several chunks."""
    chunk_items, export.EXPORT_CHUNK_ITEMS = export.EXPORT_CHUNK_ITEMS, 2
    yield
    export.EXPORT_CHUNK_ITEMS = chunk_items


async def seed(client: httpx.AsyncClient, user: Account, items: list[dict[str, Any]]) -> None:
    response = await client.post(f"{ITEMS}/batch", json=items, headers=user.headers)
    assert response.status_code == 200, response.text


async def listed(client: httpx.AsyncClient, user: Account, query: str) -> list[Any]:
    """Every item of a listing, page after page, as the list answers them."""
    found: list[Any] = []
    url: str | None = f"{ITEMS}?{query}&limit=3" if query else f"{ITEMS}?limit=3"
    while url is not None:
        response = await client.get(url, headers=user.headers)
        assert response.status_code == 200, response.text
        found.extend(response.json())
        url = response.links.get("next", {}).get("url")
    return found


def ndjson(response: httpx.Response) -> tuple[list[Any], Any]:
    """The items of an NDJSON export and its last line."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.text.endswith("\n")
    lines = [json.loads(line) for line in response.text.splitlines()]
    return lines[:-1], lines[-1]


async def test_every_item_in_the_lists_order_with_the_completeness_line(
    client: httpx.AsyncClient, alice: Account, small_chunks: None
) -> None:
    await seed(client, alice, [{"name": f"item {n}", "tags": ["t"]} for n in range(7)])
    await seed(client, alice, [{"name": "later", "metadata": {"k": 1}}])
    response = await client.get(EXPORT, headers=alice.headers)
    exported, last = ndjson(response)
    assert exported == await listed(client, alice, "")
    assert last == {"export": "complete", "count": 8}
    assert response.headers["vary"] == "Accept"
    assert response.headers["cache-control"] == "no-store"
    # The same JSON as the API, byte for byte: the list's page is these lines in an array.
    page = await client.get(f"{ITEMS}?limit=200", headers=alice.headers)
    assert b"[" + b",".join(response.content.split(b"\n")[:-2]) + b"]" == page.content


async def test_an_empty_export_is_its_completeness_line(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.get(EXPORT, headers=alice.headers)
    assert response.content == b'{"export":"complete","count":0}\n'
    csv_response = await client.get(f"{EXPORT}?format=csv", headers=alice.headers)
    assert csv_response.content == (",".join(FIELDS).encode() + b"\r\n#export,complete,0,,,,,\r\n")


@pytest.mark.parametrize(
    "query",
    [
        *(f"sort={sort}" for sort in SORTS),
        "tags=t1",
        "tags=t1,t2",
        "tags_all=t1,t2",
        'metadata={"k":1}',
        'tags=t1&metadata={"k":1}',
        "q=apple",
        "q=apple pie",
        "q=apple&sort=name,-created_at",
        "q=apple pie&sort=-updated_at&tags=t1",
        "created_after=2000-01-01T00:00:00Z",
        "sort=created_at&created_before=2100-01-01T00:00:00Z",
    ],
)
async def test_filters_and_sort_are_the_lists(
    client: httpx.AsyncClient, alice: Account, small_chunks: None, query: str
) -> None:
    names = ["apple pie", "apple", "pear", "apple tart", "plum", "pie", "b", "a", "a"]
    await seed(
        client,
        alice,
        [
            {"name": name, "tags": [f"t{n % 3}", f"t{n % 2 + 1}"], "metadata": {"k": n % 2}}
            for n, name in enumerate(names)
        ],
    )
    await seed(client, alice, [{"name": "apple crumble", "tags": ["t1"], "metadata": {"k": 1}}])
    exported, last = ndjson(await client.get(f"{EXPORT}?{query}", headers=alice.headers))
    expected = await listed(client, alice, query)
    assert exported == expected
    assert last == {"export": "complete", "count": len(expected)}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("sort=name&tags=a", "query.sort"),
        ("sort=updated_at&created_after=2000-01-01T00:00:00Z", "query.sort"),
        ("sort=name,name&q=x", "query.sort"),
        ("sort=size", "query.sort"),
        ("sort=created_at,name", "query.sort"),
        ("tags=a,,b", "query.tags"),
        ("metadata=[1]", "query.metadata"),
        ("created_after=1700000000", "query.created_after"),
        ("format=xml", "query.format"),
        ("limit=10", "query.limit"),
        ("cursor=abc", "query.cursor"),
        ("fields=id", "query.fields"),
        ("q=a&q=b", "query.q"),
    ],
)
async def test_what_the_list_refuses_is_refused_alike(
    client: httpx.AsyncClient, alice: Account, query: str, field: str
) -> None:
    body = problem(await client.get(f"{EXPORT}?{query}", headers=alice.headers), 422)
    assert [error["field"] for error in body["errors"]] == [field]
    listing = await client.get(f"{ITEMS}?{query}", headers=alice.headers)
    if field not in ("query.format", "query.limit", "query.cursor", "query.fields"):
        assert problem(listing, 422)["errors"] == body["errors"]


async def test_the_format_by_accept_or_parameter(client: httpx.AsyncClient, alice: Account) -> None:
    await seed(client, alice, [{"name": "one"}])

    async def kind(query: str = "", accept: str | None = None) -> str:
        headers = {**alice.headers, **({"Accept": accept} if accept is not None else {})}
        response = await client.get(f"{EXPORT}{query}", headers=headers)
        assert response.status_code == 200, response.text
        return response.headers["content-type"]

    csv_type = "text/csv; charset=utf-8; header=present"
    assert await kind() == "application/x-ndjson"
    assert await kind(accept="*/*") == "application/x-ndjson"
    assert await kind(accept="text/csv") == csv_type
    assert await kind(accept="text/*") == csv_type
    assert await kind(accept="application/x-ndjson;q=0.5, text/csv") == csv_type
    assert await kind(accept="text/csv;q=0.2, */*;q=0.5") == "application/x-ndjson"
    assert await kind("?format=csv", accept="application/x-ndjson") == csv_type
    assert await kind("?format=ndjson", accept="text/csv") == "application/x-ndjson"
    refused = await client.get(EXPORT, headers={**alice.headers, "Accept": "application/json"})
    assert problem(refused, 406)["type"] == "/problems/not-acceptable"
    no_csv = await client.get(EXPORT, headers={**alice.headers, "Accept": "text/csv;q=0"})
    problem(no_csv, 406)
    bad_q = await client.get(EXPORT, headers={**alice.headers, "Accept": "text/csv;q=high"})
    assert [e["field"] for e in problem(bad_q, 422)["errors"]] == ["header.accept"]


async def test_csv_quotes_as_rfc_4180_and_holds_the_same_values(
    client: httpx.AsyncClient, alice: Account
) -> None:
    tricky = [
        {"name": 'comma, "quote"', "description": "line\r\nbreak", "tags": ['say "hi"', "a;b"]},
        {"name": "Ünïcödé 名前 🍰", "description": "", "tags": ["größe", "日本"]},
        {"name": "plain", "metadata": {"note": 'x,\n"y"', "n": 1.10, "deep": {"a": [1, "b"]}}},
        {"name": " spaced ", "description": None, "tags": []},
    ]
    # As raw JSON: 1.10 stays 1.10 (httpx's json= would write 1.1).
    body = json.dumps(tricky).replace('"n": 1.1', '"n": 1.10')
    seeded = await client.post(
        f"{ITEMS}/batch",
        content=body,
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert seeded.status_code == 200, seeded.text
    response = await client.get(f"{EXPORT}?format=csv&sort=name", headers=alice.headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8; header=present"
    text = response.content.decode("utf-8")
    assert text.endswith("\r\n#export,complete,4,,,,,\r\n")
    rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    assert rows[0] == list(FIELDS)
    assert rows[-1] == ["#export", "complete", "4", "", "", "", "", ""]
    items = await listed(client, alice, "sort=name")
    assert len(rows) == len(items) + 2
    for row, item in zip(rows[1:-1], items, strict=True):
        assert len(row) == len(FIELDS)
        record = dict(zip(FIELDS, row, strict=True))
        assert record["id"] == item["id"]
        assert record["owner_id"] == item["owner_id"]
        assert record["name"] == item["name"]
        assert record["description"] == (item["description"] or "")
        assert json.loads(record["tags"]) == item["tags"]
        assert json.loads(record["metadata"]) == item["metadata"]
        assert record["created_at"] == item["created_at"]
        assert record["updated_at"] == item["updated_at"]
    # Null is the empty unquoted field, the empty string "" (as COPY … CSV reads them).
    by_name = {item["name"]: item["id"] for item in items}
    assert f'{by_name["Ünïcödé 名前 🍰"]},{alice.id},Ünïcödé 名前 🍰,"",' in text
    assert f"{by_name[' spaced ']},{alice.id}, spaced ,,[]," in text
    # Numbers and keys stay as the API writes them: the metadata is the item's JSON text.
    assert '""n"": 1.10' in text
    assert '"x,\\n\\""y\\""",' not in text  # JSON's escapes kept, only quotes doubled
    assert '""note"": ""x,\\n\\""y\\""""' in text


async def test_one_snapshot_and_a_chunk_only_after_the_previous_was_sent(
    app: Any, client: httpx.AsyncClient, alice: Account, database_url: str, small_chunks: None
) -> None:
    """The app is driven by hand: while the first chunk's send is in progress, a write commits
    and nothing else is fetched; the rest of the export does not see the write."""
    await seed(client, alice, [{"name": f"n{n}"} for n in range(5)])
    before = await listed(client, alice, "")
    sent: list[bytes] = []
    statements_while_sending: list[list[Any]] = []

    async def on_first_chunk() -> None:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as db:
            statements_while_sending.append(await _export_statements(db))
            await db.execute("DELETE FROM items WHERE name = 'n0'")
            await db.execute("UPDATE items SET name = 'renamed' WHERE name = 'n4'")
            await asyncio.sleep(0.1)  # a chunk fetched now would show in pg_stat_statements
            statements_while_sending.append(await _export_statements(db))

    await _drive(app, alice, EXPORT, sent, on_first_chunk)
    lines = b"".join(sent).decode().splitlines()
    assert [json.loads(line) for line in lines[:-1]] == before
    assert json.loads(lines[-1]) == {"export": "complete", "count": 5}
    # While the first chunk was being sent, the export's connection ran nothing.
    assert statements_while_sending[0] == statements_while_sending[1]
    assert [state for state, _ in statements_while_sending[0]] == ["idle in transaction"]
    assert len(await listed(client, alice, "")) == 4


async def _export_statements(db: psycopg.AsyncConnection[Any]) -> list[Any]:
    """The app's connections in a transaction: the export's, idle in it (no statement runs),
    with the start of its last statement."""
    cursor = await db.execute(
        "SELECT state, query_start FROM pg_stat_activity"
        " WHERE application_name = 'items-api' AND state <> 'idle' AND query LIKE '%item_json%'"
        " AND datname = current_database()"
    )
    return await cursor.fetchall()


async def _drive(
    app: Any,
    user: Account,
    path: str,
    sent: list[bytes],
    on_first_chunk: Any = None,
    hold: asyncio.Event | None = None,
) -> None:
    """Call the ASGI app with a GET of `path`; `sent` collects the body. The first chunk's send
    awaits `on_first_chunk()`, then `hold` (while it is unset, the export is held in progress)."""
    path_only, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path_only,
        "raw_path": path_only.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            *((k.lower().encode(), v.encode()) for k, v in user.headers.items()),
        ],
        "client": CLIENT_ADDRESS,
        "server": ("testserver", 80),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    chunks = 0

    async def send(message: dict[str, Any]) -> None:
        nonlocal chunks
        if message["type"] == "http.response.start":
            sent.append(b"")
            assert message["status"] == 200, message
            return
        sent.append(message.get("body", b""))
        chunks += 1
        if chunks == 1:
            if on_first_chunk is not None:
                await on_first_chunk()
            if hold is not None:
                await hold.wait()

    await app(scope, receive, send)


async def test_exports_at_once_are_bounded_per_user_and_per_worker(
    app: Any, client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    users = [await make_user() for _ in range(3)]
    hold = asyncio.Event()
    held = [
        asyncio.create_task(_drive(app, user, EXPORT, [], hold=hold))
        for user in (users[0], users[0], users[1], users[1])
    ]
    try:
        for _ in range(200):
            if sum(_slots(app).held.values()) == 4:
                break
            await asyncio.sleep(0.01)
        assert _slots(app).held == {str(users[0].id): 2, str(users[1].id): 2}
        mine = problem(await client.get(EXPORT, headers=users[0].headers), 429)
        assert mine["type"] == "/problems/too-many-exports"
        assert "EXPORTS_PER_PRINCIPAL" in mine["detail"]
        busy = await client.get(EXPORT, headers=users[2].headers)
        assert problem(busy, 503)["type"] == "/problems/exports-busy"
        assert busy.headers["retry-after"] == "1"
        # Other requests go on: an export holds its own connection, not the others'.
        assert (await client.get(ITEMS, headers=users[2].headers)).status_code == 200
    finally:
        hold.set()
        await asyncio.gather(*held)
    assert _slots(app).held == {}
    assert (await client.get(EXPORT, headers=users[2].headers)).status_code == 200


def _slots(app: Any) -> export.StreamSlots:
    slots: export.StreamSlots = app.state.exports
    return slots


async def test_needs_items_read(client: httpx.AsyncClient, make_user: MakeUser) -> None:
    problem(await client.get(EXPORT), 401)
    writer = await make_user(scopes=("items:write",))
    problem(await client.get(EXPORT, headers=writer.headers), 403)


async def test_head_answers_the_type_without_a_body(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.head(f"{EXPORT}?format=csv", headers=alice.headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8; header=present"
    assert response.content == b""


async def test_the_first_chunk_is_bounded_by_the_budget_as_any_request(
    settings: Settings, alice: Account, database_url: str
) -> None:
    async with own_app(settings, request_timeout_ms=400) as (app, http):
        async with await psycopg.AsyncConnection.connect(database_url) as locker:
            await locker.execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
            response = await http.get(EXPORT, headers=alice.headers)
            assert "budget" in problem(response, 503)["detail"]
            await wait_until_ended(database_url, "%item_json%")
        assert app.state.exports.held == {}
        assert budget.in_flight == {}
        # The slot is free again: the next export runs.
        exported, last = ndjson(await http.get(EXPORT, headers=alice.headers))
        assert (exported, last) == ([], {"export": "complete", "count": 0})
