"""What a careless or hostile client sends a list (docs/api.md "Counts"): Prefer headers as
RFC 7240 writes them, and estimated counts against the page they come with."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Account, problem
from tests.http.test_items_counts import analyze, count_of, create

ITEMS = "/api/v1/items"


@pytest.mark.parametrize(
    ("prefer", "applied"),
    [
        # A comma inside a quoted value (RFC 7240: word = token / quoted-string) separates no
        # preferences: no count was asked for.
        ('handling="lenient, count=exact"', None),
        ('return=minimal; note="a,count=exact"', None),
        # ...nor does it hide the count asked for after it.
        ('note="a, count=planned", count=exact', ("count=exact", "0-0/1")),
    ],
)
async def test_a_quoted_comma_separates_no_preferences(
    client: httpx.AsyncClient,
    alice: Account,
    prefer: str,
    applied: tuple[str, str] | None,
) -> None:
    await create(client, alice, [{"name": "lamp"}])
    response = await client.get(ITEMS, headers={**alice.headers, "Prefer": prefer})
    assert count_of(response) == applied


async def test_an_estimate_is_never_under_the_items_shown(
    client: httpx.AsyncClient, alice: Account, database_url: str
) -> None:
    # Tags that always go together: the planner, taking them as independent, expects ~2 rows.
    await create(client, alice, [{"name": f"chair {n}", "tags": ["common"]} for n in range(200)])
    await create(client, alice, [{"name": f"lamp {n}", "tags": ["x", "y"]} for n in range(20)])
    await analyze(database_url)
    response = await client.get(
        ITEMS, params={"tags_all": "x,y"}, headers={**alice.headers, "Prefer": "count=estimated"}
    )
    assert len(response.json()) == 20
    counted = count_of(response)
    assert counted is not None
    assert counted[0] == "count=estimated"
    shown, total = counted[1].split("/")
    assert int(total) > int(shown.split("-")[1])  # RFC 9110: complete-length > last-pos
    assert total == "20"  # the page's own items, when the planner expects fewer


@pytest.mark.parametrize(
    "instant",
    [
        "9999-12-31T23:59:59-01:00",  # year 10000 in UTC
        "0001-01-01T00:00:00+01:00",  # year 0 in UTC
    ],
)
@pytest.mark.parametrize("name", ["created_after", "created_before"])
@pytest.mark.parametrize("path", [ITEMS, f"{ITEMS}/export"])
@pytest.mark.parametrize("extra", [{}, {"sort": "created_at"}, {"tags": "a"}, {"q": "lamp"}])
async def test_a_date_time_out_of_range_in_utc_is_a_422_naming_it(
    client: httpx.AsyncClient,
    alice: Account,
    instant: str,
    name: str,
    path: str,
    extra: dict[str, str],
) -> None:
    """RFC 3339 as written, but no instant a timestamptz (or Python) holds once in UTC: the
    driver refused it, answered as a 422 naming `$` (a list) or a 500 (an export)."""
    response = await client.get(path, params={name: instant, **extra}, headers=alice.headers)
    body = problem(response, 422)
    assert [error["field"] for error in body["errors"]] == [f"query.{name}"]
