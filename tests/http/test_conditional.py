"""Conditional requests, RFC 9110 section 13: If-Match compares strongly, If-None-Match weakly,
several header lines are one list, If-None-Match: * creates only, If-Match: * only replaces."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.etags import parse_tags
from tests.conftest import Account, problem

ITEMS = "/api/v1/items"
ABSENT = "0b7e6f2c-5f1e-4c1a-9a55-2f6a3c1f2b10"
FULL = {"name": "lamp", "tags": ["desk", "light"], "metadata": {"watts": 40}}


async def _item(client: httpx.AsyncClient, owner: Account) -> tuple[str, str]:
    created = await client.post(ITEMS, json=FULL, headers=owner.headers)
    assert created.status_code == 201, created.text
    return f"{ITEMS}/{created.json()['id']}", created.headers["etag"]


def _with(owner: Account, *lines: tuple[str, str]) -> list[tuple[str, str]]:
    return [*owner.headers.items(), *lines]


async def _current(client: httpx.AsyncClient, url: str, owner: Account) -> dict[str, Any]:
    response = await client.get(url, headers=owner.headers)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_a_list_spread_over_lines_is_one_list() -> None:
    tags = parse_tags([b'"a", W/"b"', b' "c,d" ', b'junk, "e"'])
    assert tags is not None
    assert tags.opaque == ('"a"', '"b"', '"c,d"', '"e"')
    assert tags.strong == ('"a"', '"c,d"', '"e"')
    assert not tags.any
    assert parse_tags([]) is None
    star = parse_tags([b"*"])
    assert star is not None
    assert star.any


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_a_weak_tag_never_satisfies_if_match(
    client: httpx.AsyncClient, alice: Account, method: str
) -> None:
    url, etag = await _item(client, alice)
    response = await client.request(
        method, url, json={"name": "changed"}, headers=_with(alice, ("If-Match", f"W/{etag}"))
    )
    problem(response, 412)
    assert response.headers["etag"] == etag
    assert (await _current(client, url, alice))["name"] == "lamp"


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_if_match_on_a_second_line_is_read(
    client: httpx.AsyncClient, alice: Account, method: str
) -> None:
    url, etag = await _item(client, alice)
    response = await client.request(
        method,
        url,
        json={"name": "changed"},
        headers=_with(alice, ("If-Match", '"1"'), ("If-Match", etag)),
    )
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "changed"


async def test_if_none_match_on_a_second_line_is_read(
    client: httpx.AsyncClient, alice: Account
) -> None:
    url, etag = await _item(client, alice)
    response = await client.get(
        url, headers=_with(alice, ("If-None-Match", '"1"'), ("If-None-Match", etag))
    )
    assert response.status_code == 304
    weak = await client.get(url, headers=_with(alice, ("If-None-Match", f'"2", W/{etag}')))
    assert weak.status_code == 304
    other = await client.get(url, headers=_with(alice, ("If-None-Match", '"2"')))
    assert other.status_code == 200


async def test_put_if_none_match_star_creates_an_absent_item(
    client: httpx.AsyncClient, alice: Account
) -> None:
    url = f"{ITEMS}/{ABSENT}"
    response = await client.put(url, json=FULL, headers=_with(alice, ("If-None-Match", "*")))
    assert response.status_code == 201, response.text
    assert response.headers["location"] == url
    assert response.json()["tags"] == ["desk", "light"]


async def test_put_if_none_match_star_on_an_existing_item_is_412_and_changes_nothing(
    client: httpx.AsyncClient, alice: Account
) -> None:
    url, etag = await _item(client, alice)
    before = await _current(client, url, alice)
    response = await client.put(
        url, json={"name": "wiped"}, headers=_with(alice, ("If-None-Match", "*"))
    )
    problem(response, 412)
    assert response.headers["etag"] == etag  # a 412 names the current version
    assert await _current(client, url, alice) == before
    # The same for a tag list that names the current version, weakly.
    listed = await client.put(
        url, json={"name": "wiped"}, headers=_with(alice, ("If-None-Match", f"W/{etag}"))
    )
    problem(listed, 412)
    assert await _current(client, url, alice) == before


async def test_put_if_none_match_with_another_tag_replaces(
    client: httpx.AsyncClient, alice: Account
) -> None:
    url, _ = await _item(client, alice)
    response = await client.put(
        url, json={"name": "new"}, headers=_with(alice, ("If-None-Match", '"1"'))
    )
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "new"
    absent = await client.put(
        f"{ITEMS}/{ABSENT}", json={"name": "new"}, headers=_with(alice, ("If-None-Match", '"1"'))
    )
    assert absent.status_code == 201


async def test_if_match_star_only_when_the_item_exists(
    client: httpx.AsyncClient, alice: Account
) -> None:
    url, _ = await _item(client, alice)
    star = _with(alice, ("If-Match", "*"))
    assert (await client.put(url, json={"name": "any"}, headers=star)).status_code == 200
    assert (await client.patch(url, json={"name": "any2"}, headers=star)).status_code == 200
    missing = f"{ITEMS}/{ABSENT}"
    problem(await client.put(missing, json={"name": "x"}, headers=star), 412)
    problem(await client.patch(missing, json={"name": "x"}, headers=star), 412)
    problem(await client.delete(missing, headers=star), 412)
    assert (await client.get(missing, headers=alice.headers)).status_code == 404
    assert (await client.delete(url, headers=star)).status_code == 204


async def test_delete_reads_if_match(client: httpx.AsyncClient, alice: Account) -> None:
    url, etag = await _item(client, alice)
    problem(await client.delete(url, headers=_with(alice, ("If-Match", '"1"'))), 412)
    problem(await client.delete(url, headers=_with(alice, ("If-None-Match", etag))), 412)
    assert (await client.get(url, headers=alice.headers)).status_code == 200
    assert (await client.delete(url, headers=_with(alice, ("If-Match", etag)))).status_code == 204


async def test_patch_if_none_match_star_never_holds(
    client: httpx.AsyncClient, alice: Account
) -> None:
    url, _ = await _item(client, alice)
    star = _with(alice, ("If-None-Match", "*"))
    problem(await client.patch(url, json={"name": "x"}, headers=star), 412)
    problem(await client.patch(f"{ITEMS}/{ABSENT}", json={"name": "x"}, headers=star), 404)
    assert (await _current(client, url, alice))["name"] == "lamp"


async def test_both_preconditions_must_hold(client: httpx.AsyncClient, alice: Account) -> None:
    url, etag = await _item(client, alice)
    both = _with(alice, ("If-Match", etag), ("If-None-Match", etag))
    problem(await client.put(url, json={"name": "x"}, headers=both), 412)
    fine = _with(alice, ("If-Match", etag), ("If-None-Match", '"1"'))
    assert (await client.put(url, json={"name": "x"}, headers=fine)).status_code == 200


async def test_static_documents_compare_weakly(client: httpx.AsyncClient) -> None:
    first = await client.get("/openapi.json")
    etag = first.headers["etag"]
    again = await client.get(
        "/openapi.json", headers=[("If-None-Match", '"x"'), ("If-None-Match", f"W/{etag}")]
    )
    assert again.status_code == 304
    # A tag that merely contains ours is another tag.
    assert (
        await client.get("/openapi.json", headers={"If-None-Match": f'"x{etag[1:]}'})
    ).status_code == 200


async def test_get_answers_412_when_if_match_fails(
    client: httpx.AsyncClient, alice: Account
) -> None:
    """RFC 9110 section 13.1.1: If-Match is evaluated for GET too."""
    url, etag = await _item(client, alice)
    stale = await client.get(url, headers=_with(alice, ("If-Match", '"nope"')))
    problem(stale, 412)
    assert stale.headers["etag"] == etag
    weak = await client.get(url, headers=_with(alice, ("If-Match", f"W/{etag}")))
    problem(weak, 412)
    for holds in (etag, "*", f'"other", {etag}'):
        response = await client.get(url, headers=_with(alice, ("If-Match", holds)))
        assert response.status_code == 200, (holds, response.text)
    absent = await client.get(f"{ITEMS}/{ABSENT}", headers=_with(alice, ("If-Match", "*")))
    problem(absent, 412)
