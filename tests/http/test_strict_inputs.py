"""One spelling per input: canonical UUIDs, decimal integers, RFC 3339 date-times with an
offset, emails whose pattern means the same in Python and ECMA-262; GET /users/{id}."""

from __future__ import annotations

import re

import httpx
import pytest

from api.contracts.users import EMAIL_PATTERN
from tests.conftest import Account, problem

ITEMS = "/api/v1/items"
ITEM_ID = "0b7e6f2c-5f1e-4c1a-9a55-2f6a3c1f2b10"
SPELLINGS = [
    "0b7e6f2c5f1e4c1a9a552f6a3c1f2b10",  # no dashes
    "{0b7e6f2c-5f1e-4c1a-9a55-2f6a3c1f2b10}",  # braces
    "urn:uuid:0b7e6f2c-5f1e-4c1a-9a55-2f6a3c1f2b10",
    "0b7e6f2c5f1e-4c1a-9a55-2f6a-3c1f2b10",  # misplaced dashes
    "0b7e6f2c-5f1e-4c1a-9a55-2f6a3c1f2b1g",  # not hex
    "+b7e6f2c-5f1e-4c1a-9a55-2f6a3c1f2b10",
    "0b7e6f2c-5f1e-4c1a-9a55-2f6a3c1f2b10%0A",  # a final newline
]


@pytest.fixture
async def item_url(client: httpx.AsyncClient, alice: Account) -> str:
    response = await client.put(f"{ITEMS}/{ITEM_ID}", json={"name": "one"}, headers=alice.headers)
    assert response.status_code == 201
    return f"{ITEMS}/{ITEM_ID}"


@pytest.mark.parametrize("spelling", SPELLINGS)
async def test_an_item_has_one_url(
    client: httpx.AsyncClient, alice: Account, item_url: str, spelling: str
) -> None:
    body = problem(await client.get(f"{ITEMS}/{spelling}", headers=alice.headers), 422)
    assert body["errors"][0]["field"] == "path.id"
    for method in ("PUT", "PATCH", "DELETE"):
        response = await client.request(
            method, f"{ITEMS}/{spelling}", json={"name": "x"}, headers=alice.headers
        )
        problem(response, 422)
    upper = await client.get(f"{ITEMS}/{ITEM_ID.upper()}", headers=alice.headers)
    assert upper.status_code == 200
    assert upper.json()["id"] == ITEM_ID


@pytest.mark.parametrize("spelling", [*SPELLINGS[:6], "0b7e6f2c-5f1e-4c1a-9a55-2f6a3c1f2b10\n"])
async def test_batch_ids_are_canonical(
    client: httpx.AsyncClient, alice: Account, spelling: str
) -> None:
    response = await client.post(
        f"{ITEMS}/batch", json=[{"id": spelling, "name": "x"}], headers=alice.headers
    )
    body = problem(response, 422)
    assert body["errors"][0]["field"] == "$[0].id"


async def test_batch_ids_in_either_case_are_one_id(
    client: httpx.AsyncClient, alice: Account
) -> None:
    upper = ITEM_ID.upper()
    ok = await client.post(
        f"{ITEMS}/batch", json=[{"id": upper, "name": "x"}], headers=alice.headers
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["items"] == [{"id": ITEM_ID, "created": True}]
    twice = await client.post(
        f"{ITEMS}/batch",
        json=[{"id": upper, "name": "x"}, {"id": ITEM_ID, "name": "y"}],
        headers=alice.headers,
    )
    assert problem(twice, 422)["errors"][0]["field"] == "$[1].id"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=1e1", "query.limit"),
        ("limit=1.0", "query.limit"),
        ("limit=+5", "query.limit"),
        ("limit= 5", "query.limit"),
        ("created_after=1700000000", "query.created_after"),
        ("created_before=1700000000.5", "query.created_before"),
        ("created_after=2026-01-31T12:00:00", "query.created_after"),  # no offset
        ("created_after=2026-01-31", "query.created_after"),
        # Empty values are values, not absent parameters.
        ("created_after=&created_before=", "query.created_after"),
        ("limit=", "query.limit"),
        ("tags=", "query.tags"),
        ("q=", "query.q"),
        ("metadata=", "query.metadata"),
        ("cursor=", "query.cursor"),
        ("q=%FF", "query"),
    ],
)
async def test_query_parameters_take_their_documented_form_only(
    client: httpx.AsyncClient, alice: Account, query: str, field: str
) -> None:
    body = problem(await client.get(f"{ITEMS}?{query}", headers=alice.headers), 422)
    assert body["errors"][0]["field"] == field


async def test_the_documented_forms_are_accepted(client: httpx.AsyncClient, alice: Account) -> None:
    for query in (
        "limit=10",
        "created_after=2026-01-31T12:00:00Z",
        "created_before=2026-01-31T12:00:00.5%2B02:00",
    ):
        response = await client.get(f"{ITEMS}?{query}", headers=alice.headers)
        assert response.status_code == 200, (query, response.text)


@pytest.mark.parametrize(
    "email", ["a\u001eb@example.com", "a\ufeffb@example.com", "a\u0085@example.com", "a@b\n"]
)
async def test_emails_with_invisible_characters_are_refused(
    client: httpx.AsyncClient, admin: Account, email: str
) -> None:
    response = await client.post(
        "/api/v1/users",
        json={"email": email, "password": "a long enough password 123"},
        headers=admin.headers,
    )
    assert problem(response, 422)["errors"][0]["field"] == "$.email"


def test_the_email_pattern_refuses_the_same_characters_in_both_dialects() -> None:
    # What ECMA-262's \s and Python's \s each add is named in the class, not left to \s.
    for char in "\u001c\u001d\u001e\u001f\ufeff\u00a0\u2028\u3000 \t":
        assert re.search(EMAIL_PATTERN, f"a{char}b@example.com") is None, repr(char)
    assert "\\s" not in EMAIL_PATTERN


async def test_location_of_a_new_user_resolves(
    client: httpx.AsyncClient, admin: Account, alice: Account, bob: Account
) -> None:
    created = await client.post(
        "/api/v1/users",
        json={"email": "carol@example.com", "password": "a long enough password 123"},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    by_admin = await client.get(location, headers=admin.headers)
    assert by_admin.status_code == 200
    assert by_admin.json() == created.json()
    assert (await client.get(f"/api/v1/users/{alice.id}", headers=alice.headers)).json()[
        "email"
    ] == alice.email
    problem(await client.get(f"/api/v1/users/{alice.id}", headers=bob.headers), 403)
    problem(await client.get(f"/api/v1/users/{ITEM_ID}", headers=admin.headers), 404)
    problem(await client.get(location), 401)
    assert (await client.get("/api/v1/users/me", headers=alice.headers)).json()["id"] == str(
        alice.id
    )
