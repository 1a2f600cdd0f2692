"""POST /api/v1/items/import: what the export writes read back (both formats: export, import,
export gives the same bytes), all or nothing with the bad lines listed, the size bound,
ownership, the quota, Idempotency-Key, and the bounds on imports at once."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import psycopg
import pytest

from api.settings import Settings
from tests.conftest import Account, MakeUser, own_app, problem

ITEMS = "/api/v1/items"
EXPORT = f"{ITEMS}/export"
IMPORT = f"{ITEMS}/import"
NDJSON = "application/x-ndjson"
CSV = "text/csv"
TRICKY = [
    {"name": 'comma, "quote"', "description": "line\r\nbreak", "tags": ['say "hi"', "a;b"]},
    {"name": "Ünïcödé 名前 🍰", "description": "", "tags": ["größe", "日本"]},
    {"name": "plain", "metadata": {"note": 'x,\n"y"', "deep": {"a": [1, "b"]}}},
    {"name": " spaced ", "description": None, "tags": []},
]


async def seed(client: httpx.AsyncClient, user: Account, items: list[dict[str, Any]]) -> None:
    # Raw JSON, so that 1.10 stays 1.10.
    body = json.dumps(items, ensure_ascii=False).replace('"n": 1.1', '"n": 1.10')
    response = await client.post(
        f"{ITEMS}/batch",
        content=body.encode(),
        headers={**user.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text


async def exported(client: httpx.AsyncClient, user: Account, media: str) -> bytes:
    response = await client.get(EXPORT, headers={**user.headers, "Accept": media})
    assert response.status_code == 200, response.text
    return response.content


async def post(
    client: httpx.AsyncClient,
    user: Account,
    body: bytes,
    media: str = NDJSON,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post(
        IMPORT, content=body, headers={**user.headers, "Content-Type": media, **(headers or {})}
    )


async def count(client: httpx.AsyncClient, user: Account) -> int:
    body = await exported(client, user, NDJSON)
    last: dict[str, int] = json.loads(body.splitlines()[-1])
    return last["count"]


@pytest.mark.parametrize("media", [NDJSON, CSV])
async def test_export_import_export_gives_the_same_bytes(
    client: httpx.AsyncClient, alice: Account, database_url: str, media: str
) -> None:
    await seed(client, alice, [*TRICKY, {"name": "n", "metadata": {"n": 1.10}}])
    first = await exported(client, alice, media)
    # Into an empty table: every item created again, under its own id.
    with psycopg.connect(database_url, autocommit=True) as db:
        db.execute("DELETE FROM items")
    response = await post(client, alice, first, media)
    assert response.status_code == 200, response.text
    assert response.json() == {"created": 5, "updated": 0, "unchanged": 0}
    again = await exported(client, alice, media)
    assert len(again) == len(first)
    # The same items, ids, names, tags and metadata; only the dates are the new rows'.
    assert _without_dates(again) == _without_dates(first)
    # Imported again: nothing changes, not even updated_at, so the bytes are the same.
    response = await post(client, alice, again, media)
    assert response.json() == {"created": 0, "updated": 0, "unchanged": 5}
    assert await exported(client, alice, media) == again


def _without_dates(body: bytes) -> list[bytes]:
    return [re.sub(rb"\d{4}-\d\d-\d\dT[0-9:.]+Z", b"DATE", line) for line in body.splitlines()]


async def test_an_import_creates_and_replaces_and_counts(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await seed(client, alice, [{"name": "old"}])
    (old,) = [
        json.loads(line) for line in (await exported(client, alice, NDJSON)).splitlines()[:-1]
    ]
    body = "\n".join(
        [
            json.dumps({**old, "name": "renamed"}),
            json.dumps({"name": "new one", "tags": ["t"]}),
            json.dumps({"name": "new two", "metadata": {"k": 1}}),
        ]
    ).encode()  # no completeness line, no last newline: both optional
    response = await post(client, alice, body)
    assert response.json() == {"created": 2, "updated": 1, "unchanged": 0}
    read = (await client.get(f"{ITEMS}/{old['id']}", headers=alice.headers)).json()
    assert read["name"] == "renamed"
    assert read["created_at"] == old["created_at"]
    assert read["updated_at"] != old["updated_at"]
    assert await count(client, alice) == 3


async def test_bad_lines_are_listed_and_nothing_changes(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await seed(client, alice, [{"name": "kept"}])
    before = await exported(client, alice, NDJSON)
    lines = [json.dumps({"name": f"item {n}"}) for n in range(300)]
    lines[4] = json.dumps({"name": ""})
    lines[9] = json.dumps({"name": "x", "tags": ["a,b"]})
    lines[19] = "{not json"
    lines[29] = json.dumps({"name": "x", "price": 3})
    lines[39] = json.dumps({"name": "x", "id": "not-a-uuid"})
    response = await post(client, alice, "\n".join(lines).encode())
    body = problem(response, 422)
    fields = [error["field"] for error in body["errors"]]
    assert fields[0] == "lines[5].name"
    assert fields[1] == "lines[10].tags[0]"
    assert fields[2] == "lines[20]"
    assert fields[3].startswith("lines[30]")
    assert fields[4] == "lines[40].id"
    assert "5 lines are not valid items" in body["detail"]
    assert await exported(client, alice, NDJSON) == before
    # More than IMPORT_BAD_LINES bad lines: the first 100 are listed.
    many = "\n".join(json.dumps({"name": ""}) for _ in range(150)).encode()
    body = problem(await post(client, alice, many), 422)
    assert len(body["errors"]) == 100
    assert body["errors"][-1]["field"] == "lines[100].name"
    assert "at least 100 lines" in body["detail"]
    assert await exported(client, alice, NDJSON) == before


async def test_the_completeness_line_is_checked(client: httpx.AsyncClient, alice: Account) -> None:
    item = json.dumps({"name": "a"})
    wrong = f'{item}\n{{"export":"complete","count":2}}\n'.encode()
    assert problem(await post(client, alice, wrong), 422)["errors"][0]["field"] == (
        "lines[2].count"
    )
    after = f'{{"export":"complete","count":0}}\n{item}\n'.encode()
    assert problem(await post(client, alice, after), 422)["errors"][0]["field"] == "lines[2]"
    right = f'{item}\n{{"export":"complete","count":1}}\n'.encode()
    assert (await post(client, alice, right)).json()["created"] == 1
    header = "id,owner_id,name,description,tags,metadata,created_at,updated_at"
    csv_wrong = f"{header}\r\n,,a,,[],{{}},,\r\n#export,complete,3,,,,,\r\n".encode()
    assert problem(await post(client, alice, csv_wrong, CSV), 422)["errors"][0]["field"] == (
        "lines[3].count"
    )
    bad_header = b"name,id\r\n,,a,,[],{},,\r\n"
    assert problem(await post(client, alice, bad_header, CSV), 422)["errors"][0]["field"] == (
        "lines[1]"
    )


async def test_repeated_ids_are_refused(client: httpx.AsyncClient, alice: Account) -> None:
    same = "11111111-1111-4111-8111-111111111111"
    body = "\n".join(
        json.dumps({"id": same if n in (2, 5) else None, "name": f"n{n}"}) for n in range(1, 7)
    ).encode()
    errors = problem(await post(client, alice, body), 422)["errors"]
    assert errors == [{"field": "lines[5].id", "message": "line 2 has it too"}]
    assert await count(client, alice) == 0


async def test_ownership_as_for_put(
    client: httpx.AsyncClient, alice: Account, bob: Account, admin: Account
) -> None:
    await seed(client, alice, [{"name": "alice's"}])
    body = await exported(client, alice, NDJSON)
    mine = json.loads(body.splitlines()[0])
    changed = json.dumps({**mine, "name": "bob was here"}).encode()
    refused = await post(client, bob, json.dumps({"name": "bob's"}).encode() + b"\n" + changed)
    document = problem(refused, 403)
    assert document["type"] == "/problems/not-owner"
    assert document["refused"] == [{"line": 2, "id": mine["id"]}]
    assert await count(client, bob) == 1  # nothing written: the list is everyone's
    # The same lines unchanged are refused too: an item of another owner is not the importer's.
    assert (await post(client, bob, body)).status_code == 403
    response = await post(client, admin, changed)
    assert response.json() == {"created": 0, "updated": 1, "unchanged": 0}
    read = (await client.get(f"{ITEMS}/{mine['id']}", headers=alice.headers)).json()
    assert read["owner_id"] == str(alice.id)  # an admin's replace keeps the owner
    assert read["name"] == "bob was here"


async def test_the_size_and_quota_bounds(settings: Settings, alice: Account) -> None:
    async with own_app(settings, import_max_bytes=1000, items_max_per_user=3) as (app, http):
        big = "\n".join(json.dumps({"name": f"item {n}"}) for n in range(100)).encode()
        response = await post(http, alice, big)
        assert "IMPORT_MAX_BYTES" in problem(response, 413)["detail"]
        four = "\n".join(json.dumps({"name": f"item {n}"}) for n in range(4)).encode()
        assert problem(await post(http, alice, four), 403)["type"] == "/problems/item-quota"
        three = "\n".join(json.dumps({"name": f"item {n}"}) for n in range(3)).encode()
        assert (await post(http, alice, three)).json()["created"] == 3
        assert app.state.imports.held == {}


async def test_media_types_and_scope(client: httpx.AsyncClient, make_user: MakeUser) -> None:
    reader = await make_user(scopes=("items:read",))
    problem(await post(client, reader, b'{"name":"a"}\n'), 403)
    writer = await make_user(scopes=("items:write",))
    refused = await post(client, writer, b'[{"name":"a"}]', "application/json")
    assert problem(refused, 415)["detail"].startswith("an import is sent as")
    assert refused.headers["accept-post"] == "application/x-ndjson, text/csv"
    csv = b"id,owner_id,name,description,tags,metadata,created_at,updated_at\r\n,,a,,,,,\r\n"
    accepted = await post(client, writer, csv, "text/csv; charset=utf-8; header=present")
    assert accepted.json() == {"created": 1, "updated": 0, "unchanged": 0}


async def test_idempotency_key_replays_and_refuses_another_body(
    client: httpx.AsyncClient, alice: Account
) -> None:
    key = {"Idempotency-Key": '"import-1"'}
    body = b'{"name":"once"}\n'
    first = await post(client, alice, body, headers=key)
    assert first.json() == {"created": 1, "updated": 0, "unchanged": 0}
    again = await post(client, alice, body, headers=key)
    assert again.status_code == 200
    assert again.headers["idempotency-replayed"] == "true"
    assert again.content == first.content
    assert await count(client, alice) == 1
    other = await post(client, alice, b'{"name":"twice"}\n', headers=key)
    assert problem(other, 422)["type"] == "/problems/idempotency-key-reused"
    # A refused import stores nothing: the same key runs again once the body is right.
    key2 = {"Idempotency-Key": '"import-2"'}
    assert (await post(client, alice, b'{"name":""}\n', headers=key2)).status_code == 422
    assert (await post(client, alice, b'{"name":"ok"}\n', headers=key2)).status_code == 200


async def test_imports_at_once_are_bounded(settings: Settings, alice: Account) -> None:
    async with own_app(settings) as (app, http):

        async def slow_body() -> Any:
            yield b'{"name":"a"}\n'
            await asyncio.sleep(0.5)
            yield b'{"name":"b"}\n'

        first = asyncio.create_task(
            http.post(
                IMPORT, content=slow_body(), headers={**alice.headers, "Content-Type": NDJSON}
            )
        )
        for _ in range(100):
            if app.state.imports.held:
                break
            await asyncio.sleep(0.01)
        second = await post(http, alice, b'{"name":"c"}\n')
        assert problem(second, 429)["type"] == "/problems/too-many-imports"
        assert (await first).json()["created"] == 2
        assert app.state.imports.held == {}


async def test_an_import_may_arrive_for_longer_than_a_statement_may_run(
    settings: Settings, alice: Account
) -> None:
    """The COPY lasts as long as the body takes to arrive: DB_STATEMENT_TIMEOUT_MS does not bound
    it (IMPORT_STATEMENT_TIMEOUT_MS does), only the budget between two parts of the body does."""
    async with own_app(settings, db_statement_timeout_ms=200) as (_, http):

        async def slow_body() -> Any:
            for number in range(4):
                yield f'{{"name":"part {number}"}}\n'.encode()
                await asyncio.sleep(0.15)

        reply = await http.post(
            IMPORT, content=slow_body(), headers={**alice.headers, "Content-Type": NDJSON}
        )
        assert reply.status_code == 200, reply.text
        assert reply.json() == {"created": 4, "updated": 0, "unchanged": 0}
