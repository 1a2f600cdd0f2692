"""List and search pages carry items as JSON built by PostgreSQL (item_json, migration 0010);
single-item responses are encoded by the service. Both must give the very same bytes."""

from __future__ import annotations

import httpx
import psycopg
import pytest

from tests.conftest import Account

ITEMS = "/api/v1/items"

ITEMS_TO_WRITE: list[dict[str, object]] = [
    {"name": "plain lamp"},
    {
        "name": 'lamp "quoted" \\ back/slash',
        "description": "tab \t newline \n bell \x07 unit \x1f del \x7f",
        "tags": ["a\tb", 'quote"d'],
        "metadata": {"nested": {"list": [1, 2.5, None, True]}, "text": "\n\u2028"},
    },
    {
        "name": "lamp café 東京 \U0001f600",
        "description": "\u2028 line separator",
        "tags": ["东京", "é"],
        "metadata": {"ключ": "значение", "emoji": "\U0001f600"},
    },
]


async def single_item_bodies(
    client: httpx.AsyncClient, user: Account, ids: list[str]
) -> list[bytes]:
    bodies = []
    for item_id in ids:
        response = await client.get(f"{ITEMS}/{item_id}", headers=user.headers)
        assert response.status_code == 200, response.text
        bodies.append(response.content)
    return bodies


async def write_items(client: httpx.AsyncClient, user: Account) -> None:
    for item in ITEMS_TO_WRITE:
        response = await client.post(ITEMS, json=item, headers=user.headers)
        assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "query",
    [
        "limit=10",  # list_recent
        "tags=%C3%A9,a%09b,none&limit=10",  # list_by_tags_any
        "metadata=%7B%7D&limit=10",  # list_by_metadata
        "q=lamp&limit=10",  # search_by_word
        "q=lamp%20plain&limit=10",  # search_by_name
    ],
)
async def test_listed_items_are_byte_for_byte_the_single_item_responses(
    client: httpx.AsyncClient, alice: Account, query: str
) -> None:
    await write_items(client, alice)
    listed = await client.get(f"{ITEMS}?{query}", headers=alice.headers)
    assert listed.status_code == 200, listed.text
    ids = [item["id"] for item in listed.json()]
    assert ids
    singles = await single_item_bodies(client, alice, ids)
    assert listed.content == b"[" + b",".join(singles) + b"]"


async def test_timestamps_without_microseconds_read_the_same_listed_and_alone(
    client: httpx.AsyncClient, alice: Account, database_url: str
) -> None:
    await write_items(client, alice)
    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE items SET created_at = date_trunc('second', created_at)")
    listed = await client.get(f"{ITEMS}?tags_all=%C3%A9&limit=10", headers=alice.headers)
    assert listed.status_code == 200, listed.text
    [item] = listed.json()
    assert item["created_at"].endswith("Z")
    assert "." not in item["created_at"]
    [single] = await single_item_bodies(client, alice, [item["id"]])
    assert listed.content == b"[" + single + b"]"
