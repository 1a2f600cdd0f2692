"""Counts on request (`Prefer: count=exact|estimated`, docs/api.md "Counts") of every list: each
filter and their combinations, the cap, the planner's estimates, and the request's budget."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest

from api import budget
from api.settings import Settings
from queries import items
from tests.conftest import Account, own_app
from tests.database import wait_until_ended

ITEMS = "/api/v1/items"
EXACT = {"Prefer": "count=exact"}
ESTIMATED = {"Prefer": "count=estimated"}


def count_of(response: httpx.Response) -> tuple[str, str] | None:
    """(Preference-Applied, Content-Range), or None when the answer has neither."""
    assert response.status_code == 200, response.text
    if "content-range" not in response.headers:
        assert "preference-applied" not in response.headers
        return None
    return response.headers["preference-applied"], response.headers["content-range"]


async def create(client: httpx.AsyncClient, user: Account, specs: list[dict[str, Any]]) -> str:
    """The items of `specs` in one batch (one created_at); the created_at, for windows."""
    response = await client.post(f"{ITEMS}/batch", json=specs, headers=user.headers)
    assert response.status_code == 200, response.text
    first = response.json()["items"][0]["id"]
    item = (await client.get(f"{ITEMS}/{first}", headers=user.headers)).json()
    created_at: str = item["created_at"]
    return created_at


async def pages_of(
    client: httpx.AsyncClient, user: Account, params: dict[str, str], prefer: dict[str, str]
) -> list[httpx.Response]:
    """Every page of a list of 2 items a page, following Link: rel="next"."""
    pages = [
        await client.get(ITEMS, params={**params, "limit": "2"}, headers={**user.headers, **prefer})
    ]
    while "next" in pages[-1].links:
        pages.append(
            await client.get(pages[-1].links["next"]["url"], headers={**user.headers, **prefer})
        )
        assert len(pages) < 50
    return pages


async def seed_mixed(client: httpx.AsyncClient, user: Account) -> str:
    """Items with overlapping tags, metadata and names (two batches); the second's created_at."""
    await create(
        client,
        user,
        [
            {"name": "red chair", "tags": ["a", "b"], "metadata": {"k": 1}},
            {"name": "blue chair", "tags": ["a"], "metadata": {"k": 2}},
            {"name": "chairs and chairs", "tags": ["b"], "metadata": {"k": 1, "x": True}},
            {"name": "green table", "tags": ["c"], "metadata": {}},
            {"name": "red table", "tags": ["a", "c"], "metadata": {"k": 1}},
        ],
    )
    return await create(
        client,
        user,
        [
            {"name": "chiar", "tags": ["a", "b"], "metadata": {"k": 1}},  # one typo from chair
            {"name": "red armchair", "tags": ["b", "c"], "metadata": {"k": 2}},
            {"name": "chair red", "tags": ["a"], "metadata": {"k": 1}},
            {"name": "lamp", "tags": [], "metadata": {"k": 1}},
        ],
    )


# The filters, and the count of seed_mixed's items each matches where it is plain to see (a
# search's depends on the similar words: there the list alone tells).
FILTERS: list[dict[str, str]] = [
    {},
    {"tags": "a"},
    {"tags": "a,b"},
    {"tags": "b,c"},
    {"tags_all": "a,b"},
    {"tags_all": "a", "tags": "b,c"},
    {"tags_all": "a", "metadata": '{"k": 1}'},
    {"metadata": '{"k": 1}'},
    {"metadata": '{"k": 1}', "tags": "a,c"},
    {"metadata": '{"nope": 1}'},
    {"q": "chair"},
    {"q": "chair", "tags": "b"},
    {"q": "chair", "tags_all": "a", "metadata": '{"k": 1}'},
    {"q": "red chair"},
    {"q": "red chair", "tags": "a"},
    {"q": "nothing"},
    {"tags": "zzz"},
]
PLAIN_TOTALS = [9, 5, 7, 6, 2, 3, 4, 6, 4, 0]


async def test_exact_count_of_every_filter_is_what_the_list_pages_through(
    client: httpx.AsyncClient, alice: Account
) -> None:
    second = await seed_mixed(client, alice)
    window = {"created_after": "2000-01-01T00:00:00Z", "created_before": second}
    totals = []
    for params in [*FILTERS, *({**f, **window} for f in FILTERS)]:
        pages = await pages_of(client, alice, params, EXACT)
        total = sum(len(page.json()) for page in pages)
        totals.append(total)
        first = f"0-{len(pages[0].json()) - 1}/{total}" if total else "*/0"
        counts = [count_of(page) for page in pages]
        assert counts == [("count=exact", first)] + [("count=exact", f"*/{total}")] * (
            len(pages) - 1
        ), params
        # The sort changes no count (only created_at's orders take a filter: the window).
        sorts = items.SORTS if not params else ("created_at", "-created_at")
        if not set(params) - set(window):
            for sort in sorts:
                response = await client.get(
                    ITEMS,
                    params={**params, "sort": sort, "limit": "2"},
                    headers={**alice.headers, **EXACT},
                )
                assert count_of(response) == counts[0], (params, sort)
    assert totals[: len(PLAIN_TOTALS)] == PLAIN_TOTALS
    assert totals[FILTERS.index({"q": "chair"})] >= 5  # red, blue, chairs, chiar, chair red
    assert totals[len(FILTERS) :] != totals[: len(FILTERS)]  # the window left the second batch


async def test_every_exact_count_stops_at_the_cap(
    client: httpx.AsyncClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create(
        client,
        alice,
        [
            {"name": "red chair one", "tags": ["a", "b"], "metadata": {"k": 1}},
            {"name": "red chair two", "tags": ["a", "b"], "metadata": {"k": 1}},
            {"name": "red chair three", "tags": ["a"], "metadata": {"k": 1}},
            {"name": "red chair four", "tags": ["d"], "metadata": {"k": 1}},
            {"name": "red chair five", "tags": ["a", "b"], "metadata": {"k": 1}},
        ],
    )
    monkeypatch.setattr("api.handlers.items.ITEM_COUNT_CAP", 3)
    over = (
        {},
        {"tags": "a"},
        {"tags": "b,d"},  # 3 and 1: no tag passes the cap, their union does
        {"tags_all": "a"},
        {"metadata": '{"k": 1}'},
        {"metadata": '{"k": 1}', "tags": "a"},
        {"q": "chair"},
        {"q": "red chair"},
        {"q": "chair", "tags": "a"},
    )
    for params in over:
        response = await client.get(
            ITEMS, params={**params, "limit": "2"}, headers={**alice.headers, **EXACT}
        )
        assert count_of(response) == ("count=exact", "0-1/3+"), params
    # At the cap exactly, or under it, the count is exact.
    for params, total in (
        ({"tags": "b"}, 3),
        ({"tags_all": "a,b"}, 3),
        ({"tags": "b,d", "tags_all": "b"}, 3),
        ({"tags": "d"}, 1),
    ):
        response = await client.get(
            ITEMS, params={**params, "limit": "2"}, headers={**alice.headers, **EXACT}
        )
        shown = "0-1" if total > 1 else "0-0"
        assert count_of(response) == ("count=exact", f"{shown}/{total}"), params


async def analyze(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("ANALYZE items")


async def test_estimated_counts_of_filters_are_the_planners(
    client: httpx.AsyncClient, alice: Account, database_url: str
) -> None:
    specs = [{"name": f"item {n}", "tags": ["common", f"t{n % 4}"]} for n in range(200)]
    specs += [{"name": f"rare {n}", "tags": ["rare"]} for n in range(10)]
    second = await create(client, alice, specs)
    # Before the first ANALYZE the planner only guesses: the count is exact, and says so.
    response = await client.get(
        ITEMS, params={"tags": "rare"}, headers={**alice.headers, **ESTIMATED}
    )
    assert count_of(response) == ("count=exact", "0-9/10")
    await analyze(database_url)
    for params, real in (
        ({"tags": "common"}, 200),
        ({"tags": "rare"}, 10),
        ({"tags": "t1,rare"}, 60),
        ({"tags_all": "common,t2"}, 50),
        ({"created_before": second}, 0),
        ({"created_after": "2000-01-01T00:00:00Z", "tags": "rare"}, 10),
    ):
        response = await client.get(
            ITEMS, params={**params, "limit": "1"}, headers={**alice.headers, **ESTIMATED}
        )
        counted = count_of(response)
        assert counted is not None
        assert counted[0] == "count=estimated", params
        estimate = int(counted[1].split("/")[1])
        # The planner's estimate, from the statistics: near the real count (at least 1).
        assert max(real, 1) / 3 <= estimate <= real * 3 + 3, (params, estimate)


async def test_estimates_without_statistics_are_exact_counts(
    client: httpx.AsyncClient, alice: Account, database_url: str
) -> None:
    await create(
        client,
        alice,
        [{"name": f"chair {n}", "tags": ["a"], "metadata": {"k": n % 2}} for n in range(30)],
    )
    await analyze(database_url)
    # Metadata containment and search have no statistics to estimate from.
    for params, total in (
        ({"metadata": '{"k": 1}'}, 15),
        ({"metadata": '{"k": 1}', "tags": "a"}, 15),
        ({"tags_all": "a", "metadata": '{"k": 0}'}, 15),
        ({"q": "chair"}, 30),
        ({"q": "chair", "tags": "a"}, 30),
        ({"q": "chair 7"}, 1),
    ):
        response = await client.get(
            ITEMS, params={**params, "limit": "1"}, headers={**alice.headers, **ESTIMATED}
        )
        assert count_of(response) == ("count=exact", f"0-0/{total}"), params


@pytest.fixture
async def tight(settings: Settings, alice: Account) -> AsyncIterator[httpx.AsyncClient]:
    """An app with a budget of 600 ms."""
    async with own_app(settings, request_timeout_ms=600) as (_, http):
        http.headers.update(alice.headers)
        yield http


@pytest.mark.parametrize("prefer", ["count=exact", "count=estimated"])
@pytest.mark.parametrize("params", [{}, {"tags": "a"}, {"metadata": "{}"}, {"q": "chair"}])
async def test_a_count_past_the_budget_leaves_the_page_without_it(
    tight: httpx.AsyncClient,
    client: httpx.AsyncClient,
    alice: Account,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    prefer: str,
    params: dict[str, str],
) -> None:
    await create(client, alice, [{"name": "chair", "tags": ["a"]}])
    await analyze(database_url)
    locker = await psycopg.AsyncConnection.connect(database_url)
    find = items.find

    async def find_then_lock(*args: Any, **kwargs: Any) -> items.ItemPage:
        """The page, then a lock that holds up every statement that could count it."""
        page = await find(*args, **kwargs)
        await locker.execute("LOCK TABLE items, item_tags, item_words IN ACCESS EXCLUSIVE MODE")
        return page

    monkeypatch.setattr(items, "find", find_then_lock)
    try:
        start = time.perf_counter()
        response = await tight.get(ITEMS, params=params, headers={"Prefer": prefer})
        seconds = time.perf_counter() - start
    finally:
        await locker.rollback()
        await locker.close()
    assert count_of(response) is None
    assert [item["name"] for item in response.json()] == ["chair"]
    assert seconds < 0.6 + 0.3  # within the budget (and a loaded machine's delay)
    await wait_until_ended(database_url, "%count%")
    await wait_until_ended(database_url, "%EXPLAIN%")
    assert budget.in_flight == {}
