"""Responses: no driver, database, library or regex text in any error; every 422 names its field;
security headers on every answer."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import Account, problem

ITEMS = "/api/v1/items"
# Words that only a library, the driver or PostgreSQL would write.
LEAKS = re.compile(
    r"asyncpg|psycopg|postgres|DETAIL|HINT|SQLSTATE|query argument|\$\d|Unicode escape|"
    r"msgspec|Expected `|regex|\^\[|segments|padding|jwt|Traceback|Error\b"
)


def no_leak(body: dict[str, Any]) -> None:
    text = " ".join(
        [str(body.get("detail", ""))]
        + [f"{e['field']} {e['message']}" for e in body.get("errors") or []]
    )
    assert not LEAKS.search(text), text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "ok", "metadata": {"k": "a\u0000b"}}, "$.metadata"),
        ({"name": "ok", "metadata": {"a\u0000": 1}}, "$.metadata"),
        ({"name": "ok", "metadata": {"deep": [{"x": ["\u0000"]}]}}, "$.metadata"),
        ({"name": "nul\u0000"}, "$.name"),
        ({"name": "ok", "tags": ["a\u0000"]}, "$.tags[0]"),
    ],
)
async def test_a_value_postgresql_refuses_is_422_naming_the_field(
    client: httpx.AsyncClient, alice: Account, body: dict[str, Any], field: str
) -> None:
    """Finding: `the database refused a value: unsupported Unicode escape sequence DETAIL: ...`
    reached the client, with no errors[].field."""
    document = problem(await client.post(ITEMS, json=body, headers=alice.headers), 422)
    assert document["errors"][0]["field"] == field
    no_leak(document)
    listed = await client.get(ITEMS, headers=alice.headers)
    assert listed.json() == []  # nothing was stored


async def test_nul_in_a_batch_names_the_item(client: httpx.AsyncClient, alice: Account) -> None:
    body = [{"name": "fine"}, {"name": "bad", "metadata": {"k": "\u0000"}}]
    document = problem(await client.post(f"{ITEMS}/batch", json=body, headers=alice.headers), 422)
    assert document["errors"][0]["field"] == "$[1].metadata"
    no_leak(document)


async def test_nul_through_put_and_patch_is_422_too(
    client: httpx.AsyncClient, alice: Account
) -> None:
    item_id = uuid.uuid4()
    body = {"name": "x", "metadata": {"k": "\u0000"}}
    put = problem(await client.put(f"{ITEMS}/{item_id}", json=body, headers=alice.headers), 422)
    assert put["errors"][0]["field"] == "$.metadata"
    created = (await client.post(ITEMS, json={"name": "x"}, headers=alice.headers)).json()
    patch = await client.patch(
        f"{ITEMS}/{created['id']}", json={"metadata": {"k": "\u0000"}}, headers=alice.headers
    )
    assert problem(patch, 422)["errors"][0]["field"] == "$.metadata"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("q=a%00b", "query.q"),
        ("tags=a%00b", "query.tags"),
        ("tags_all=x,a%00", "query.tags_all"),
        ("metadata=%7B%22k%22%3A%22%5Cu0000%22%7D", "query.metadata"),
        ("limit=abc", "query.limit"),
        ("limit=99999999999999999999999", "query.limit"),
        ("created_after=yesterday", "query.created_after"),
    ],
)
async def test_query_parameters_the_database_would_refuse_are_422_naming_them(
    client: httpx.AsyncClient, alice: Account, query: str, field: str
) -> None:
    document = problem(await client.get(f"{ITEMS}?{query}", headers=alice.headers), 422)
    assert document["errors"][0]["field"] == field
    no_leak(document)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not an email", "password": "a long enough password"}, "$.email"),
        ({"email": "a@b.c", "password": "short"}, "$.password"),
        ({"email": "a@b.c", "password": 5}, "$.password"),
        ({"email": "a@b.c", "password": "long enough pw", "scopes": ["root"]}, "$.scopes[0]"),
        ({"email": "a@b.c", "password": "long enough pw", "extra": 1}, "$.extra"),
    ],
)
async def test_validation_messages_are_plain_words(
    client: httpx.AsyncClient, admin: Account, body: dict[str, Any], field: str
) -> None:
    """Finding: msgspec's messages reached clients with their regular expressions."""
    document = problem(await client.post("/api/v1/users", json=body, headers=admin.headers), 422)
    assert document["errors"][0]["field"] == field
    no_leak(document)
    if field == "$.email":
        assert document["errors"][0]["message"] == "must be an email address"


async def test_malformed_json_says_where_not_what_the_parser_said(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.post(
        ITEMS,
        content=b'{"name": "x",}',
        headers={**alice.headers, "content-type": "application/json"},
    )
    document = problem(response, 400)
    assert document["detail"].startswith("the body is not valid JSON")
    no_leak(document)


@pytest.mark.parametrize(
    "token",
    [
        "abc",  # PyJWT: Not enough segments
        "a.b.c",  # PyJWT: Invalid header padding
        "eyJhbGciOiJIUzI1NiJ9.e30.c2ln",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4In0.AAAA",
    ],
)
async def test_token_errors_carry_no_pyjwt_text(client: httpx.AsyncClient, token: str) -> None:
    """Finding: PyJWT's `Not enough segments` reached the client."""
    response = await client.get(ITEMS, headers={"Authorization": f"Bearer {token}"})
    document = problem(response, 401)
    no_leak(document)
    assert not LEAKS.search(response.headers["www-authenticate"])


async def test_every_answer_is_nosniff(client: httpx.AsyncClient, alice: Account) -> None:
    """Finding: no X-Content-Type-Options anywhere."""
    for response in (
        await client.get("/healthz"),
        await client.get("/"),
        await client.get("/openapi.json"),
        await client.get(ITEMS),  # 401
        await client.get("/nowhere"),  # 404
        await client.get(ITEMS, headers=alice.headers),
        await client.get("/static/site.css"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff", response.url


async def test_authenticated_answers_are_no_store(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """Finding: no Cache-Control on items, lists, users/me or keys."""
    created = await client.post(ITEMS, json={"name": "cached?"}, headers=alice.headers)
    item = created.json()
    for response in (
        created,
        await client.get(f"{ITEMS}/{item['id']}", headers=alice.headers),
        await client.get(ITEMS, headers=alice.headers),
        await client.get("/api/v1/users/me", headers=alice.headers),
        await client.get("/api/v1/api-keys", headers=alice.headers),
        await client.post("/api/v1/api-keys", json={"name": "k"}, headers=alice.headers),
        await client.get(f"{ITEMS}/{uuid.uuid4()}", headers=alice.headers),  # 404
    ):
        assert response.headers.get_list("cache-control") == ["no-store"], response.url


@pytest.mark.parametrize("path", ["/", "/docs"])
async def test_html_pages_have_a_content_security_policy(
    client: httpx.AsyncClient, path: str
) -> None:
    """Finding: no Content-Security-Policy on / and /docs."""
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    )
