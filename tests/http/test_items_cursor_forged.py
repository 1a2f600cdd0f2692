"""Cursors a client made itself (docs/api.md "Pagination"): the cursor is base64url JSON a client
can write, with any position, and the digest of the filters it is replayed with. Whatever it
holds, the answer is a page or a 422 naming `query.cursor`, never a refusal of PostgreSQL's
mapped to `$`."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import httpx
import pytest

from api.contracts.items import ListQuery, item_filter
from api.cursor import SEARCH_ORDER, encode_cursor
from queries.keyset import PageKey
from tests.conftest import Account, problem

ITEMS = "/api/v1/items"
SOME_ID = UUID("00000000-0000-4000-8000-000000000000")
SOME_TIME = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("query", "order", "key"),
    [
        # A NUL, which no text column stores, in the name of a name order's position.
        ({"sort": "name"}, "name", ("a\x00b", SOME_ID)),
        ({"sort": "-name"}, "-name", ("a\x00b", SOME_ID)),
        ({"sort": "name,-created_at"}, "name,-created_at", ("a\x00b", SOME_TIME, SOME_ID)),
        ({"sort": "name", "q": "lamp"}, "name", ("a\x00b", SOME_ID)),
        # A relevance score no `real` holds (the statements' cursor score is a real).
        ({"q": "lamp"}, SEARCH_ORDER, (1e308, SOME_ID)),
        ({"q": "lamp shade"}, SEARCH_ORDER, (-1e39, SOME_ID)),
    ],
)
async def test_a_forged_position_is_a_422_naming_the_cursor(
    client: httpx.AsyncClient,
    alice: Account,
    query: dict[str, str],
    order: str,
    key: PageKey,
) -> None:
    await client.post(ITEMS, json={"name": "lamp shade"}, headers=alice.headers)
    cursor = encode_cursor(key, item_filter(ListQuery(**query)), order)  # type: ignore[arg-type]
    response = await client.get(ITEMS, params={**query, "cursor": cursor}, headers=alice.headers)
    body = problem(response, 422)
    assert [error["field"] for error in body["errors"]] == ["query.cursor"]
