"""Hostile and careless clients of the export and the import (docs/api.md "Export", "Import")."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from api import importer
from api.settings import Settings
from tests.conftest import Account, own_app, problem

ITEMS = "/api/v1/items"
EXPORT = f"{ITEMS}/export"
IMPORT = f"{ITEMS}/import"
NDJSON = "application/x-ndjson"
CSV = "text/csv"
A = b'{"name":"a"}\n'
DONE = b'{"export":"complete","count":%b}\n'
DEEP = b'{"name":"a","metadata":' + b'{"a":' * 5000 + b"1" + b"}" * 5001 + b"\n"
HEADER = b"id,owner_id,name,description,tags,metadata,created_at,updated_at\r\n"


async def post(
    client: httpx.AsyncClient, user: Account, body: Any, media: str = NDJSON, **headers: str
) -> httpx.Response:
    return await client.post(
        IMPORT, content=body, headers={**user.headers, "Content-Type": media, **headers}
    )


async def count(client: httpx.AsyncClient, user: Account) -> int:
    response = await client.get(EXPORT, headers=user.headers)
    assert response.status_code == 200, response.text
    return int(json.loads(response.content.splitlines()[-1])["count"])


def fields(response: httpx.Response) -> list[str]:
    return [error["field"] for error in problem(response, 422)["errors"]]


@pytest.mark.parametrize(
    ("body", "media", "field"),
    [
        (b'\xef\xbb\xbf{"name":"bom"}\n', NDJSON, "lines[1]"),
        (b'{"name":"a"}\n{"name":"\xff"}\n', NDJSON, "lines[2]"),
        (b'{"name":"a\\u0000"}\n', NDJSON, "lines[1].name"),
        (b'{"name":"a","metadata":{"k\\u0000":1}}\n', NDJSON, "lines[1].metadata"),
        (b'{"name":"a","metadata":{"k":"\\u0000"}}\n', NDJSON, "lines[1].metadata"),
        (b'{"name":"\\ud800"}\n', NDJSON, "lines[1]"),
        (b'{"name":"a","metadata":{"k":"\\udfff"}}\n', NDJSON, "lines[1]"),
        (b'{"name":"a","metadata":{"\\ud800":1}}\n', NDJSON, "lines[1]"),
        (b'{"name":"a","tags":["\\ud800"]}\n', NDJSON, "lines[1]"),
        (b'{"name":"a","description":"\\ud800"}\n', NDJSON, "lines[1]"),
        (b'{"name":"a","metadata":{"n":1e999999}}\n', NDJSON, "lines[1].metadata"),
        (
            b'{"name":"a","metadata":' + b'{"a":' * 5000 + b"1" + b"}" * 5001 + b"\n",
            NDJSON,
            "lines[1]",
        ),
        (b'{"name":"a","metadata":' + b"[" * 5000 + b"]" * 5000 + b"}\n", NDJSON, "lines[1]"),
        (b'{"name":"a"}\n{"export":"complete","count":1}\n{"name":"b"}\n', NDJSON, "lines[3]"),
        (
            A + DONE % b"99999999999999999999999",
            NDJSON,
            "lines[2]",
        ),
        (b'{"name":"a"}\n{"export":"complete","count":-1}\n', NDJSON, "lines[2]"),
        (b'{"name":"a"}\n{"export":"complete","count":true}\n', NDJSON, "lines[2]"),
        (b'{"name":"a"}\n\n{"name":"b"}\n', NDJSON, "lines[2]"),
        (
            A + DONE % b"1" + DONE % b"1",
            NDJSON,
            "lines[3]",
        ),
        (HEADER + b",,a,,,,,\r\n#export,complete,\xc2\xb2,,,,,\r\n", CSV, "lines[3]"),
        (HEADER + b",,a,,,,,\r\n#export,complete,\xd9\xa1,,,,,\r\n", CSV, "lines[3]"),
        (HEADER + b",,a\x00,,,,,\r\n", CSV, "lines[2].name"),
        (HEADER + b',,a,,,"{""k\\u0000"":1}",,\r\n', CSV, "lines[2].metadata"),
        (HEADER + b",,\xff,,,,,\r\n", CSV, "lines[2]"),
        (b"\xef\xbb\xbf" + HEADER + b",,a,,,,,\r\n", CSV, "lines[1]"),
        (HEADER.upper() + b",,a,,,,,\r\n", CSV, "lines[1]"),
        (HEADER.replace(b",", b", ") + b",,a,,,,,\r\n", CSV, "lines[1]"),
        (HEADER + b",,a,,,,,,\r\n", CSV, "lines[2]"),
        (HEADER + b",,a,,,,\r\n", CSV, "lines[2]"),
        (HEADER + b',,"a,,,,,\r\n,,b,,,,,\r\n', CSV, "lines[2]"),
        (HEADER + b',,a"b,,,,,\r\n', CSV, "lines[2]"),
        (HEADER + b',,"a"b,,,,,\r\n', CSV, "lines[2]"),
        (HEADER + b",,a,,[1],,,\r\n", CSV, "lines[2].tags[0]"),
        (HEADER + b",,a,,notjson,,,\r\n", CSV, "lines[2].tags"),
        (HEADER + b",,a,,,[],,\r\n", CSV, "lines[2].metadata"),
        (HEADER + b"not-a-uuid,,a,,,,,\r\n", CSV, "lines[2].id"),
        (HEADER + b",,a,,,,,\r\n#export,complete,1,,,,,\r\n,,b,,,,,\r\n", CSV, "lines[4]"),
        (HEADER + b",,a,,,,,\r\n#export,complete,1,x,,,,\r\n", CSV, "lines[3]"),
        (HEADER + b",,a,,,,,\r\n#export,done,1,,,,,\r\n", CSV, "lines[3]"),
    ],
)
async def test_bad_bodies_are_422_naming_the_line(
    client: httpx.AsyncClient, alice: Account, body: bytes, media: str, field: str
) -> None:
    response = await post(client, alice, body, media)
    found = fields(response)
    assert found, response.text
    assert found[0].startswith(field), found
    assert await count(client, alice) == 0


@pytest.mark.parametrize(
    ("body", "media", "created"),
    [
        (b'{"name":"a"}\r\n{"name":"b"}\r\n', NDJSON, 2),
        (b'{"name":"a"}\n{"name":"b"}', NDJSON, 2),
        (b'{"name":"a"}\n{"export":"complete","count":1}', NDJSON, 1),
        (b"", NDJSON, 0),
        (HEADER + b",,a,,,,,\r\n,,b,,,,,", CSV, 2),
        (HEADER + b",,a,,,,,\n,,b,,,,,\n", CSV, 2),
        (HEADER + b',,"a\r\nb",,,,,\r\n', CSV, 1),
        (HEADER, CSV, 0),
    ],
)
async def test_good_bodies(
    client: httpx.AsyncClient, alice: Account, body: bytes, media: str, created: int
) -> None:
    response = await post(client, alice, body, media)
    assert response.status_code == 200, response.text
    assert response.json() == {"created": created, "updated": 0, "unchanged": 0}


async def test_long_lines(settings: Settings, alice: Account) -> None:
    async with own_app(settings, max_body_bytes=1000) as (app, http):
        long = json.dumps({"name": "a", "description": "x" * 2000}).encode()
        ok = b'{"name":"ok"}'
        for body, field in [
            (ok + b"\n" + long + b"\n" + ok + b"\n", "lines[2]"),
            (ok + b"\n" + long, "lines[2]"),
            (long + b"\n" + ok + b"\n" + long, "lines[1]"),
        ]:
            found = fields(await post(http, alice, body))
            assert found[0] == field, found
        csv = HEADER + b',,"' + b"x\r\n" * 500 + b'",,,,,\r\n,,b,,,,,\r\n'
        assert fields(await post(http, alice, csv, CSV))[0] == "lines[2]"
        assert app.state.imports.held == {}


async def test_many_bad_csv_lines(client: httpx.AsyncClient, alice: Account) -> None:
    body = HEADER + b",,,,,,,\r\n" * 300
    found = fields(await post(client, alice, body, CSV))
    assert len(found) == 100
    assert found[0] == "lines[2].name"
    assert found[-1] == "lines[101].name"


async def test_a_lying_content_length(settings: Settings, alice: Account) -> None:
    async with own_app(settings, import_max_bytes=1000) as (app, http):
        response = await post(http, alice, b'{"name":"a"}\n', **{"Content-Length": "5000"})
        assert problem(response, 413)
        assert app.state.imports.held == {}


async def test_a_record_of_many_lines_costs_linear_time(
    settings: Settings, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A quoted field of 200,000 line breaks: its quotes were counted again in the whole pending
    record at each line (quadratic: about 5 s of a blocked event loop here, minutes for a 2 MiB
    record). The bytes the reader scans for quotes are counted, not timed."""
    scanned = [0]

    class CountingBuffer(bytearray):
        def count(self, *args: Any) -> int:
            scanned[0] += len(self)
            return super().count(*args)

    monkeypatch.setattr(importer, "bytearray", CountingBuffer, raising=False)
    async with own_app(settings, max_body_bytes=1024 * 1024) as (_, http):
        body = HEADER + b',,a,,,"{' + b"\n" * 200_000 + b'}",,\r\n'
        response = await post(http, alice, body, CSV)
        assert response.json() == {"created": 1, "updated": 0, "unchanged": 0}
    assert scanned[0] <= 2 * len(body)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (["text/csv;q=0"], 406),
        (["*/*;q=0"], 406),
        (["text/csv;q=0, */*"], NDJSON),
        (["application/x-ndjson;q=0, text/*"], CSV),
        (["text/html", "text/csv"], CSV),
        (["application/x-ndjson;q=0.1", "text/csv;q=0.2"], CSV),
        (["text/csv;q=abc"], 422),
        (["text/csv;q=nan"], 422),
        (["text/csv;q=2"], 422),
        (["text/csv; q=0.5, application/x-ndjson; Q=0.4"], CSV),
        (["application/json"], 406),
        ([""], NDJSON),
        ([",,,"], 406),
        (["TEXT/CSV"], CSV),
    ],
)
async def test_accept(
    client: httpx.AsyncClient, alice: Account, accept: list[str], expected: Any
) -> None:
    headers = [("Authorization", alice.headers["Authorization"])] + [("Accept", a) for a in accept]
    response = await client.get(EXPORT, headers=headers)
    if isinstance(expected, int):
        problem(response, expected)
    else:
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(expected)


async def test_a_406_is_titled_and_varies_on_accept(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.get(EXPORT, headers={**alice.headers, "Accept": "application/json"})
    assert problem(response, 406)["title"] == "Not Acceptable"  # was "Error"
    assert response.headers["vary"] == "Accept"


@pytest.mark.parametrize(
    "query",
    [
        "format=xml",
        "format=CSV",
        "format=",
        "limit=1",
        "cursor=x",
        "fields=id",
        "sort=nope",
        "created_after=x",
        "metadata=notjson",
        "tags=" + ",".join(str(n) for n in range(100)),
        "q=%00",
        "format=csv&format=ndjson",
    ],
)
async def test_export_bad_queries(client: httpx.AsyncClient, alice: Account, query: str) -> None:
    response = await client.get(f"{EXPORT}?{query}", headers=alice.headers)
    problem(response, 422)


NAMES = [
    '"quoted"',
    "a,b",
    "line\nbreak",
    "cr\rlf\r\n",
    "=SUM(A1)",
    "+1",
    "-1",
    "@x",
    "Ünïcödé 名前 🍰",
    "cafe\u0301",
    "#export",
    "  lead",
    'x"',
    "\u2028sep",
]


@pytest.mark.parametrize("media", [NDJSON, CSV])
async def test_round_trip_of_unusual_names(
    client: httpx.AsyncClient, alice: Account, database_url: str, media: str
) -> None:
    import psycopg

    items = [
        {"name": name, "description": name, "tags": ["t"], "metadata": {name: name}}
        for name in NAMES
    ]
    response = await client.post(f"{ITEMS}/batch", json=items, headers=alice.headers)
    assert response.status_code == 200, response.text
    first = (await client.get(EXPORT, headers={**alice.headers, "Accept": media})).content
    with psycopg.connect(database_url, autocommit=True) as db:
        db.execute("DELETE FROM items")
    reply = await post(client, alice, first, media)
    assert reply.status_code == 200, reply.text
    assert reply.json()["created"] == len(NAMES)
    again = (await client.get(EXPORT, headers={**alice.headers, "Accept": media})).content
    strip = (
        (
            lambda b: [
                json.loads(line) | {"created_at": 0, "updated_at": 0} for line in b.splitlines()
            ]
        )
        if media == NDJSON
        else None
    )
    if strip:
        assert strip(again) == strip(first)
    reply = await post(client, alice, again, media)
    assert reply.json() == {"created": 0, "updated": 0, "unchanged": len(NAMES)}
    assert (await client.get(EXPORT, headers={**alice.headers, "Accept": media})).content == again


async def test_csv_line_numbers_are_a_records_first_line(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    response = await client.post(f"{ITEMS}/batch", json=[{"name": "bob's"}], headers=bob.headers)
    theirs = response.json()["items"][0]["id"]
    same = "11111111-1111-4111-8111-111111111111"
    spanning = b',,"a\r\nb\r\nc",,,,,\r\n'  # lines 2 to 4
    body = HEADER + spanning + f"{same},,x,,,,,\r\n{same},,y,,,,,\r\n".encode()
    assert fields(await post(client, alice, body, CSV)) == ["lines[6].id"]
    refused = await post(client, alice, HEADER + spanning + f"{theirs},,x,,,,,\r\n".encode(), CSV)
    assert problem(refused, 403)["refused"] == [{"line": 5, "id": theirs}]
    bad = HEADER + spanning + b",,,,,,,\r\n"
    assert fields(await post(client, alice, bad, CSV)) == ["lines[5].name"]
    assert await count(client, alice) == 1  # bob's: the list is everyone's


async def test_at_most_100_refused_lines(
    client: httpx.AsyncClient, bob: Account, alice: Account
) -> None:
    response = await client.post(
        f"{ITEMS}/batch", json=[{"name": f"b{n}"} for n in range(150)], headers=bob.headers
    )
    ids = [item["id"] for item in response.json()["items"]]
    body = b"".join(json.dumps({"id": i, "name": "mine"}).encode() + b"\n" for i in ids)
    refused = problem(await post(client, alice, body), 403)["refused"]
    assert len(refused) == 100
    assert refused[0]["line"] == 1


def line_of(size: int) -> bytes:
    """An item's NDJSON line of exactly `size` bytes (without its \\n)."""
    start = b'{"name":"a","description":"'
    return start + b"x" * (size - len(start) - 2) + b'"}'


async def test_the_line_bound_is_exact_across_chunks(settings: Settings, alice: Account) -> None:
    async with own_app(settings, max_body_bytes=1000) as (_, http):
        exact, over = line_of(1000), line_of(1001)
        assert (len(exact), len(over)) == (1000, 1001)

        def split(body: bytes, at: int) -> Any:
            async def parts() -> Any:
                yield body[:at]
                yield body[at:]

            return parts()

        for at in (1, 500, 999, 1000, 1001):
            reply = await post(http, alice, split(exact + b"\n", at))
            assert reply.status_code == 200, (at, reply.text)
            assert fields(await post(http, alice, split(over + b"\n", at))) == ["lines[1]"]
            last = split(exact + b"\n" + over, at + 1001)  # the last line, without \n
            assert fields(await post(http, alice, last)) == ["lines[2]"]
        assert (await post(http, alice, exact)).status_code == 200  # no \n: read too


async def test_a_slow_upload_within_the_budget(settings: Settings, alice: Account) -> None:
    async with own_app(settings, request_timeout_ms=400) as (app, http):
        body = b'{"name":"slow"}\n{"name":"slower"}'

        async def byte_by_byte() -> Any:
            for byte in body:
                yield bytes([byte])
                await asyncio.sleep(0.02)  # 0.7 s in all, past the budget

        reply = await post(http, alice, byte_by_byte())
        assert reply.json() == {"created": 2, "updated": 0, "unchanged": 0}
        assert app.state.imports.held == {}


async def test_imports_of_many_users(settings: Settings, make_user: Any) -> None:
    async with own_app(settings) as (app, http):
        users = [await make_user() for _ in range(3)]
        gate = asyncio.Event()

        async def held() -> Any:
            yield b'{"name":"a"}\n'
            await gate.wait()
            yield b'{"name":"b"}\n'

        first = [asyncio.create_task(post(http, user, held())) for user in users[:2]]
        for _ in range(200):
            if sum(app.state.imports.held.values()) == 2:
                break
            await asyncio.sleep(0.01)
        busy = await post(http, users[2], b'{"name":"c"}\n')
        assert problem(busy, 503)["type"] == "/problems/imports-busy"
        assert busy.headers["retry-after"]
        gate.set()
        for task in first:
            assert (await task).json()["created"] == 2
        assert app.state.imports.held == {}
        assert (await post(http, users[2], b'{"name":"c"}\n')).status_code == 200
