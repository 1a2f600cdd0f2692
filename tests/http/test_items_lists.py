"""Lists users shape: `sort` (exact keyset pages in every order, ties included), `fields` on an
item and on lists (built by PostgreSQL, an item's ETag the item's) and counts on request
(`Prefer: count=…`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import msgspec
import psycopg
import pytest

from api.contracts.common import CURSOR_LENGTH
from queries import items
from queries.codecs import init_connection
from queries.items import FIELDS, SORTS
from queries.keyset import MAX_UUID, NEG_INFINITY, POS_INFINITY
from tests.conftest import Account, own_app, problem
from tests.statement_log import StatementLog

ITEMS = "/api/v1/items"


async def seed(client: httpx.AsyncClient, user: Account, names: list[str]) -> list[dict[str, Any]]:
    """Items of these names, made by one batch: they share created_at and updated_at (one
    transaction), so every order has ties the id must break."""
    response = await client.post(
        f"{ITEMS}/batch", json=[{"name": name} for name in names], headers=user.headers
    )
    assert response.status_code == 200, response.text
    return [
        (await client.get(f"{ITEMS}/{entry['id']}", headers=user.headers)).json()
        for entry in response.json()["items"]
    ]


async def walk(
    client: httpx.AsyncClient, user: Account, query: str, headers: dict[str, str] | None = None
) -> list[httpx.Response]:
    """Every page of a listing, following its Link: rel="next" headers to the last page."""
    pages: list[httpx.Response] = []
    url: str | None = f"{ITEMS}?{query}"
    while url is not None:
        response = await client.get(url, headers={**user.headers, **(headers or {})})
        assert response.status_code == 200, response.text
        pages.append(response)
        url = response.links.get("next", {}).get("url")
        assert len(pages) < 100
    return pages


def expected(items: list[dict[str, Any]], sort: str) -> list[str]:
    """The ids in `sort`'s order: its fields, then the id the way the last field goes. PostgreSQL
    orders uuids as Python orders their integers; the names here are ASCII, ordered alike by any
    collation, and the times are written alike, ordered as text."""
    fields = sort.split(",")
    ordered = sorted(items, key=lambda item: UUID(item["id"]), reverse=fields[-1][0] == "-")
    for field in reversed(fields):  # stable sorts, the last field's first
        ordered.sort(key=lambda item: item[field.lstrip("-")], reverse=field[0] == "-")
    return [item["id"] for item in ordered]


@pytest.mark.parametrize("sort", SORTS)
async def test_pages_are_exact_under_every_sort_with_ties(
    client: httpx.AsyncClient, alice: Account, sort: str
) -> None:
    first = await seed(client, alice, ["b", "a", "c", "a", "b", "a", "c"])
    second = await seed(client, alice, ["a", "b", "a"])
    # One item updated later than the rest: updated_at differs from created_at's order.
    patched = await client.patch(
        f"{ITEMS}/{first[3]['id']}", json={"description": "x"}, headers=alice.headers
    )
    assert patched.status_code == 200
    items = [patched.json() if item["id"] == first[3]["id"] else item for item in first + second]
    for limit in (1, 2, 3, 50):
        pages = await walk(client, alice, f"sort={sort}&limit={limit}")
        seen = [item["id"] for page in pages for item in page.json()]
        assert seen == expected(items, sort), (sort, limit)


async def test_default_sort_is_newest_first_and_equals_explicit_sort(
    client: httpx.AsyncClient, alice: Account
) -> None:
    items = await seed(client, alice, ["x", "y", "z"]) + await seed(client, alice, ["w"])
    default = await walk(client, alice, "limit=2")
    explicit = await walk(client, alice, "limit=2&sort=-created_at")
    ids = [item["id"] for page in default for item in page.json()]
    assert ids == [item["id"] for page in explicit for item in page.json()]
    assert ids == expected(items, "-created_at")
    # A cursor of the default order continues the explicit one: they are the same order.
    cursor = default[0].links["next"]["url"].split("cursor=")[1]
    again = await client.get(
        f"{ITEMS}?limit=2&sort=-created_at&cursor={cursor}", headers=alice.headers
    )
    assert again.status_code == 200
    assert [item["id"] for item in again.json()] == ids[2:4]


async def test_a_cursor_of_another_sort_is_refused(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await seed(client, alice, ["a", "b", "c"])
    by_name = await client.get(f"{ITEMS}?sort=name&limit=1", headers=alice.headers)
    cursor = by_name.links["next"]["url"].split("cursor=")[1]
    for other in ("-name", "updated_at", "created_at", None):
        query = f"limit=1&cursor={cursor}" + ("" if other is None else f"&sort={other}")
        body = problem(await client.get(f"{ITEMS}?{query}", headers=alice.headers), 422)
        assert body["errors"][0]["field"] == "query.cursor"
        assert "sort=name" in body["detail"], body
    # A two-field sort's cursor carries both fields: refused under either field alone, under
    # the other direction and under the other time.
    by_two = await client.get(f"{ITEMS}?sort=name,-created_at&limit=1", headers=alice.headers)
    cursor = by_two.links["next"]["url"].split("cursor=")[1]
    for other in ("name", "-name,-created_at", "name,created_at", "name,-updated_at", None):
        query = f"limit=1&cursor={cursor}" + ("" if other is None else f"&sort={other}")
        body = problem(await client.get(f"{ITEMS}?{query}", headers=alice.headers), 422)
        assert body["errors"][0]["field"] == "query.cursor"
        assert "sort=name,-created_at" in body["detail"], body
    default = await client.get(f"{ITEMS}?limit=1", headers=alice.headers)
    cursor = default.links["next"]["url"].split("cursor=")[1]
    body = problem(
        await client.get(f"{ITEMS}?sort=created_at&cursor={cursor}", headers=alice.headers), 422
    )
    assert body["errors"][0]["field"] == "query.cursor"
    assert "sort=-created_at" in body["detail"]


async def test_a_long_name_fits_its_cursor(client: httpx.AsyncClient, alice: Account) -> None:
    """A name of 100 four-byte characters still makes a cursor the API takes back."""
    await seed(client, alice, ["\U0001f600" * 100, "\U0001f600" * 100])
    pages = await walk(client, alice, "sort=-name&limit=1")
    assert len(pages) == 2
    url = pages[0].links["next"]["url"]
    assert len(url.split("cursor=")[1]) <= CURSOR_LENGTH


async def test_a_two_field_cursor_of_a_long_name_fits(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await seed(client, alice, ["\U0001f600" * 100] * 2)
    pages = await walk(client, alice, "sort=-name,updated_at&limit=1")
    assert len(pages) == 2
    assert len(pages[0].links["next"]["url"].split("cursor=")[1]) <= CURSOR_LENGTH


async def test_sort_with_q_is_the_searchs_matches_in_the_sorts_order(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """`sort` with `q` finds what the relevance search finds (similar words, typos, every word
    of several, the filters) and orders it by the sort, pages exact across ties."""
    names = ["red chair", "armchair", "chair", "red chiar", "blue chair", "red table", "sofa"]
    first = await seed(client, alice, names)
    second = await seed(client, alice, ["chair", "red chair", "chairs", "lamp"])
    tagged = await client.post(
        ITEMS, json={"name": "red chair", "tags": ["t"]}, headers=alice.headers
    )
    items = [*first, *second, tagged.json()]
    for search in ("chair", "red chair", "chiar", "red%20chair&tags=t", "nothing"):
        relevance = await walk(client, alice, f"q={search}&limit=50")
        matches = {item["id"] for page in relevance for item in page.json()}
        found = [item for item in items if item["id"] in matches]
        for sort in SORTS:
            for limit in (2, 50):
                pages = await walk(client, alice, f"q={search}&sort={sort}&limit={limit}")
                seen = [item["id"] for page in pages for item in page.json()]
                assert seen == expected(found, sort), (search, sort, limit)
    # With sort=-created_at, the default order's, the order is creation's, not relevance's.
    relevance = await walk(client, alice, "q=chair&limit=50")
    by_creation = await walk(client, alice, "q=chair&sort=-created_at&limit=50")
    assert relevance[0].json() != by_creation[0].json()


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("sort=price", "unknown field 'price'"),
        ("sort=id", "unknown field 'id'"),
        ("sort=", "an empty field"),
        ("sort=name,", "an empty field"),
        ("sort=,name", "an empty field"),
        ("sort=%2Bname", "unknown field '+name'"),
        ("sort=name,price", "unknown field 'price'"),
        ("sort=name,created_at,id", "unknown field 'id'"),
        ("sort=name,created_at,updated_at", "at most two fields"),
        ("sort=name,-name", "name given twice"),
        ("sort=-created_at,created_at", "created_at given twice"),
        (
            "sort=created_at,name",
            "'name' cannot follow 'created_at': only name or -name takes a second field",
        ),
        (
            "sort=-updated_at,created_at",
            "'created_at' cannot follow '-updated_at': only name or -name takes a second field",
        ),
        ("sort=name,created_at&tags=a", "sort=name,created_at cannot be combined with tags"),
        ("sort=name,name&q=chair", "name given twice"),
        ("sort=name&tags=a", "sort=name cannot be combined with tags"),
        ("sort=updated_at&tags_all=a", "sort=updated_at cannot be combined with tags_all"),
        ("sort=-name&metadata=%7B%7D", "sort=-name cannot be combined with metadata"),
        ("sort=created_at&tags=a", "sort=created_at cannot be combined with tags"),
        (
            "sort=name&created_after=2026-01-01T00:00:00Z",
            "sort=name cannot be combined with created_after",
        ),
    ],
)
async def test_a_sort_that_is_not_allowed_is_a_422_naming_query_sort(
    client: httpx.AsyncClient, alice: Account, query: str, said: str
) -> None:
    body = problem(await client.get(f"{ITEMS}?{query}", headers=alice.headers), 422)
    assert body["errors"] == [{"field": "query.sort", "message": said}]
    if "combined" not in said:  # the detail lists what is allowed
        assert all(sort in body["detail"] for sort in SORTS), body["detail"]


async def test_sorts_combine_with_the_filters_they_have_an_index_for(
    client: httpx.AsyncClient, alice: Account
) -> None:
    items = await seed(client, alice, ["a", "b"])
    tagged = await client.post(ITEMS, json={"name": "t", "tags": ["a"]}, headers=alice.headers)
    window = f"created_before={tagged.json()['created_at'].replace('+', '%2B')}"
    pages = await walk(client, alice, f"sort=created_at&limit=1&{window}")
    assert [item["id"] for page in pages for item in page.json()] == expected(items, "created_at")
    # The default order takes every filter, given explicitly too.
    response = await client.get(f"{ITEMS}?sort=-created_at&tags=a", headers=alice.headers)
    assert [item["id"] for item in response.json()] == [tagged.json()["id"]]


# fields


async def test_fields_answers_those_fields_alone_with_the_items_etag(
    client: httpx.AsyncClient, alice: Account
) -> None:
    # Raw JSON: the number as written, 1.10, which jsonb keeps.
    body = b'{"name": "\\u00dcn\\u00efcode \\"q\\"", "tags": ["a", "b"], "metadata": {"n": 1.10}}'
    created = await client.post(
        ITEMS, content=body, headers={**alice.headers, "Content-Type": "application/json"}
    )
    assert created.status_code == 201, created.text
    item_path = f"{ITEMS}/{created.json()['id']}"
    whole = await client.get(item_path, headers=alice.headers)
    for fields in (["id", "name", "tags"], list(FIELDS), ["metadata"], ["description"]):
        # Asked in any order, answered in the item's, each once.
        asked = ",".join([*reversed(fields), fields[0]])
        response = await client.get(f"{item_path}?fields={asked}", headers=alice.headers)
        assert response.status_code == 200, response.text
        assert response.headers["etag"] == whole.headers["etag"]
        assert list(response.json()) == fields
        assert response.json() == {field: whole.json()[field] for field in fields}
    # Every field: the same bytes as the whole item (numbers as written: 1.10 stays 1.10).
    response = await client.get(f"{item_path}?fields={','.join(FIELDS)}", headers=alice.headers)
    assert response.content == whole.content
    assert b'"n": 1.10' in response.content


async def test_fields_keeps_the_preconditions(client: httpx.AsyncClient, alice: Account) -> None:
    created = await client.post(ITEMS, json={"name": "n"}, headers=alice.headers)
    item_path = f"{ITEMS}/{created.json()['id']}"
    etag = created.headers["etag"]
    fresh = {**alice.headers, "If-None-Match": etag}
    response = await client.get(f"{item_path}?fields=name", headers=fresh)
    assert response.status_code == 304
    assert response.headers["etag"] == etag
    stale = {**alice.headers, "If-Match": '"stale"'}
    assert (await client.get(f"{item_path}?fields=name", headers=stale)).status_code == 412
    absent = f"{ITEMS}/00000000-0000-4000-8000-000000000000?fields=name"
    problem(await client.get(absent, headers=alice.headers), 404)


async def test_fields_is_built_by_postgresql(
    client: httpx.AsyncClient, alice: Account, statement_log: StatementLog
) -> None:
    created = await client.post(ITEMS, json={"name": "n"}, headers=alice.headers)
    item_path = f"{ITEMS}/{created.json()['id']}"
    statement_log.runs = {}
    await client.get(f"{item_path}?fields=id", headers=alice.headers)
    ran = set().union(*statement_log.runs.values())
    assert "items/get_fields_by_id" in ran
    assert not {"items/get_by_id", "items/get_by_ids"} & ran
    # Without fields, the read is today's (coalesced) one, and never the fields statement.
    statement_log.runs = {}
    await client.get(item_path, headers=alice.headers)
    ran = set().union(*statement_log.runs.values())
    assert "items/get_fields_by_id" not in ran
    assert {"items/get_by_id", "items/get_by_ids"} & ran


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ("price", "unknown field 'price'"),
        ("id,,name", "an empty field name"),
        ("", "an empty field name"),
        ("ID", "unknown field 'ID'"),
    ],
)
async def test_an_unknown_field_is_a_422_naming_query_fields(
    client: httpx.AsyncClient, alice: Account, fields: str, said: str
) -> None:
    created = await client.post(ITEMS, json={"name": "n"}, headers=alice.headers)
    response = await client.get(
        f"{ITEMS}/{created.json()['id']}?fields={fields}", headers=alice.headers
    )
    assert problem(response, 422)["errors"] == [{"field": "query.fields", "message": said}]


async def test_other_parameters_of_an_item_read_are_refused(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = await client.post(ITEMS, json={"name": "n"}, headers=alice.headers)
    response = await client.get(f"{ITEMS}/{created.json()['id']}?field=id", headers=alice.headers)
    assert problem(response, 422)["errors"][0]["field"] == "query.field"


# fields on lists


async def seed_kinds(client: httpx.AsyncClient, user: Account) -> list[dict[str, Any]]:
    """Items for every filter kind and search, in three batches (each shares created_at)."""
    batches = [
        [
            {"name": "red sprocket", "tags": ["a", "b"], "metadata": {"k": 1.10}},
            {"name": "blue sprocket", "description": "d", "tags": ["a"], "metadata": {"k": 2}},
        ],
        [
            {"name": "red widget", "tags": ["b"], "metadata": {"k": 1.10}},
            {"name": "green sprocket", "tags": ["a", "b"]},
            {"name": "sprocket", "tags": ["c"], "metadata": {"k": 1.10}},
        ],
        [{"name": "red sprocket mk2", "tags": ["a", "b"], "metadata": {"k": 1.10}}],
    ]
    made = []
    for batch in batches:
        response = await client.post(f"{ITEMS}/batch", json=batch, headers=user.headers)
        assert response.status_code == 200, response.text
        made += response.json()["items"]
    return made


# Every statement a list may run: the default order with each filter (list_recent,
# list_by_tags_any, list_by_tags_all, list_by_metadata), each sort (list_oldest,
# list_by_updated_at*, list_by_name*), a search of one word and of two, and sorted searches
# (search_sorted).
LIST_QUERIES = [
    "",
    "created_after=2000-01-01T00:00:00Z&created_before=2999-01-01T00:00:00Z",
    "tags=a",
    "tags_all=a,b",
    "tags_all=a&tags=b&metadata=%7B%22k%22%3A1.10%7D",
    "metadata=%7B%22k%22%3A1.10%7D",
    "metadata=%7B%22k%22%3A1.10%7D&tags=a",
    *(f"sort={sort}" for sort in SORTS),
    "sort=created_at&created_after=2000-01-01T00:00:00Z",
    "q=sprocket",
    "q=sprocket&tags=a",
    "q=red%20sprocket",
    "q=sprocket&sort=name,-created_at",
    "q=red%20sprocket&sort=-updated_at",
]
# Asked in another order than the item's, and once without the key's fields (id, created_at).
ASKED_FIELDS = [["id", "name", "tags"], ["name"], ["description", "metadata"], list(FIELDS)]


def _ids(pages: list[httpx.Response]) -> list[str]:
    return [item["id"] for page in pages for item in page.json()]


@pytest.mark.parametrize("query", LIST_QUERIES)
async def test_fields_on_a_list_answers_those_fields_of_each_item_alone(
    client: httpx.AsyncClient, alice: Account, query: str
) -> None:
    await seed_kinds(client, alice)
    whole = await client.get(f"{ITEMS}?{query}", headers=alice.headers)
    assert whole.status_code == 200, whole.text
    assert len(whole.json()) >= 2
    for fields in ASKED_FIELDS:
        asked = ",".join(reversed(fields))
        response = await client.get(f"{ITEMS}?{query}&fields={asked}", headers=alice.headers)
        assert response.status_code == 200, response.text
        assert "etag" not in response.headers
        expected_items = [{field: item[field] for field in fields} for item in whole.json()]
        assert [list(item) for item in response.json()] == [fields] * len(expected_items)
        assert response.json() == expected_items, fields
        if fields == list(FIELDS):  # every field: the same bytes as the whole list
            assert response.content == whole.content


@pytest.mark.parametrize("query", LIST_QUERIES)
async def test_pages_with_fields_are_the_pages_without(
    client: httpx.AsyncClient, alice: Account, query: str
) -> None:
    await seed_kinds(client, alice)
    for limit in (1, 2):
        whole = await walk(client, alice, f"{query}&limit={limit}")
        whole_ids = _ids(whole)
        assert len(whole_ids) >= 2
        # With the id among the fields, the pages hold the same items; the Link repeats fields.
        pages = await walk(client, alice, f"{query}&limit={limit}&fields=name,id")
        assert _ids(pages) == whole_ids, (query, limit)
        assert all("fields=name%2Cid" in page.links["next"]["url"] for page in pages[:-1])
        # Without the key's fields in the JSON: the next page's key came from columns.
        pages = await walk(client, alice, f"{query}&limit={limit}&fields=name")
        assert [len(page.json()) for page in pages] == [len(page.json()) for page in whole]
        names = [item["name"] for page in whole for item in page.json()]
        assert [item for page in pages for item in page.json()] == [{"name": n} for n in names]


async def test_fields_keeps_the_count(client: httpx.AsyncClient, alice: Account) -> None:
    await seed(client, alice, ["a", "b", "c"])
    prefer = {"Prefer": "count=exact"}
    pages = await walk(client, alice, "limit=2&fields=name", prefer)
    assert [_count(page) for page in pages] == [("count=exact", "0-1/3"), ("count=exact", "*/3")]


async def test_the_byte_cap_counts_the_fields_sent(
    settings: Any, client: httpx.AsyncClient, alice: Account
) -> None:
    """A page ends before MAX_RESPONSE_BYTES of the JSON it sends: sparse items fit more."""
    big = {"name": "big", "description": "x" * 9000}
    for _ in range(2):  # two bodies under MAX_BODY_BYTES
        response = await client.post(f"{ITEMS}/batch", json=[big] * 5, headers=alice.headers)
        assert response.status_code == 200, response.text
    async with own_app(settings, max_response_bytes=64 * 1024) as (_, http):
        whole = await walk(http, alice, "limit=50")
        assert len(whole) > 1
        assert all(len(page.content) <= 64 * 1024 for page in whole)
        sparse = await walk(http, alice, "limit=50&fields=id,name")
        assert len(sparse) == 1
        assert _ids(sparse) == _ids(whole)
        everything = await walk(http, alice, f"limit=50&fields={','.join(FIELDS)}")
        assert [page.content for page in everything] == [page.content for page in whole]


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ("price", "unknown field 'price'"),
        ("id,,name", "an empty field name"),
        ("", "an empty field name"),
        ("name,", "an empty field name"),
        ("ID", "unknown field 'ID'"),
    ],
)
@pytest.mark.parametrize("query", ["", "tags=a&", "sort=name&", "q=chair&"])
async def test_an_unknown_field_on_a_list_is_a_422_naming_query_fields(
    client: httpx.AsyncClient, alice: Account, fields: str, said: str, query: str
) -> None:
    await client.post(ITEMS, json={"name": "chair", "tags": ["a"]}, headers=alice.headers)
    response = await client.get(f"{ITEMS}?{query}fields={fields}", headers=alice.headers)
    assert problem(response, 422)["errors"] == [{"field": "query.fields", "message": said}]


async def test_fields_on_a_list_is_built_by_postgresql(
    client: httpx.AsyncClient, alice: Account, database_url: str
) -> None:
    """The list statement itself answers the sparse JSON, and the page key as columns; without
    fields, whole items and no key columns (the default page decodes nothing more)."""
    created = await client.post(ITEMS, json={"name": "n", "tags": ["t"]}, headers=alice.headers)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1, init=init_connection)
    try:
        first_page = (2, NEG_INFINITY, POS_INFINITY, POS_INFINITY, MAX_UUID)
        [row] = await pool.fetch(items.LIST_RECENT, *first_page, ["name", "tags"])
        assert bytes(row["item"]) == b'{"name":"n","tags":["t"]}'
        assert str(row["id"]) == created.json()["id"]
        assert row["created_at"] is not None
        [row] = await pool.fetch(items.LIST_RECENT, *first_page, None)
        assert msgspec.json.decode(bytes(row["item"])) == created.json()
        assert (row["created_at"], row["id"]) == (None, None)
    finally:
        await pool.close()


def test_item_fields_json_is_inlined_into_the_list_statements(database_url: str) -> None:
    """item_fields_json is one expression (migration 0024) that the planner inlines, as it does
    item_json: a page with fields runs no function per row, even in the generic plan."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"PREPARE fields_page AS {items.LIST_RECENT}")
        conn.execute("SET plan_cache_mode = force_generic_plan")
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                "EXPLAIN VERBOSE EXECUTE fields_page(2, '-infinity', 'infinity', 'infinity',"
                " 'ffffffff-ffff-ffff-ffff-ffffffffffff', '{name}')"
            )
        )
    assert "concat_ws" in plan
    assert "item_fields_json" not in plan
    assert "item_json" not in plan


# counts


def _count(response: httpx.Response) -> tuple[str, str] | None:
    if "content-range" not in response.headers:
        assert "preference-applied" not in response.headers
        return None
    return response.headers["preference-applied"], response.headers["content-range"]


async def test_exact_count_in_content_range(client: httpx.AsyncClient, alice: Account) -> None:
    await seed(client, alice, ["a", "b", "c", "d", "e"])
    pages = await walk(client, alice, "limit=2", {"Prefer": "count=exact"})
    assert [_count(page) for page in pages] == [
        ("count=exact", "0-1/5"),
        ("count=exact", "*/5"),
        ("count=exact", "*/5"),
    ]
    for page in pages:
        assert "Prefer" in [v.strip() for v in ",".join(page.headers.get_list("vary")).split(",")]
    # Any sort: the count is the list's.
    pages = await walk(
        client, alice, "limit=5&sort=name", {"Prefer": "return=minimal, count=exact"}
    )
    assert [_count(page) for page in pages] == [("count=exact", "0-4/5")]


async def test_no_count_unless_asked(client: httpx.AsyncClient, alice: Account) -> None:
    await seed(client, alice, ["a"])
    response = await client.get(ITEMS, headers=alice.headers)
    assert _count(response) is None
    assert "Prefer" in response.headers.get_list("vary")
    for prefer in ("count=planned", "count", "return=minimal"):
        response = await client.get(ITEMS, headers={**alice.headers, "Prefer": prefer})
        assert _count(response) is None


async def test_count_of_an_empty_list(client: httpx.AsyncClient, alice: Account) -> None:
    response = await client.get(ITEMS, headers={**alice.headers, "Prefer": "count=exact"})
    assert response.json() == []
    assert _count(response) == ("count=exact", "*/0")


async def test_exact_count_stops_at_the_cap(
    client: httpx.AsyncClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("api.handlers.items.ITEM_COUNT_CAP", 3)
    await seed(client, alice, ["a", "b", "c", "d", "e"])
    response = await client.get(
        f"{ITEMS}?limit=2", headers={**alice.headers, "Prefer": "count=exact"}
    )
    assert _count(response) == ("count=exact", "0-1/3+")
    # At the cap exactly, the count is exact.
    monkeypatch.setattr("api.handlers.items.ITEM_COUNT_CAP", 5)
    response = await client.get(
        f"{ITEMS}?limit=2", headers={**alice.headers, "Prefer": "count=exact"}
    )
    assert _count(response) == ("count=exact", "0-1/5")


async def test_exact_count_of_a_creation_window(client: httpx.AsyncClient, alice: Account) -> None:
    first = await seed(client, alice, ["a", "b"])
    await seed(client, alice, ["c"])
    after = first[0]["created_at"].replace("+", "%2B")
    response = await client.get(
        f"{ITEMS}?created_after={after}", headers={**alice.headers, "Prefer": "count=exact"}
    )
    assert _count(response) == ("count=exact", "0-0/1")
    # An estimate of a window is its exact count, and says so.
    response = await client.get(
        f"{ITEMS}?created_after={after}", headers={**alice.headers, "Prefer": "count=estimated"}
    )
    assert _count(response) == ("count=exact", "0-0/1")


async def test_estimated_count_is_the_planners(
    client: httpx.AsyncClient, alice: Account, database_url: str
) -> None:
    await seed(client, alice, ["a", "b", "c", "d"])
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("ANALYZE items")
        row = conn.execute(
            "SELECT reltuples FROM pg_class WHERE oid = 'items'::regclass"
        ).fetchone()
    assert row is not None
    assert row[0] == 4
    response = await client.get(
        f"{ITEMS}?limit=3", headers={**alice.headers, "Prefer": "count=estimated"}
    )
    assert _count(response) == ("count=estimated", "0-2/4")


def test_content_range_forms_are_the_documented_ones() -> None:
    """docs/api.md shows each form the service writes."""
    docs = Path(__file__).resolve().parents[2].joinpath("docs", "api.md").read_text()
    for form in (
        "Content-Range: 0-49/1234",
        "Content-Range: */1234",
        "Content-Range: 0-49/100000+",
    ):
        assert form in docs, form
    assert re.search(r"ITEM_COUNT_CAP", docs)
