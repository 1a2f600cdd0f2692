"""What goes in comes back: metadata numbers exactly as written, one Unicode form (NFC) for text,
and tags and names that a filter can find (issue 14)."""

from __future__ import annotations

import json
import unicodedata
import uuid
from threading import get_ident
from urllib.parse import quote

import httpx
import pytest

from api.contracts import items as item_input
from tests.conftest import Account, problem

EXACT = b'{"price": 1.10, "ratio": 0.1000000000000000000001, "big": 1e400, "tiny": 1e-400}'
EXACT_BACK = (
    '"price": 1.10',
    '"ratio": 0.1000000000000000000001',
    '"big": 1' + "0" * 400 + ",",
    '"tiny": 0.' + "0" * 399 + "1",
)


def body(name: str, metadata: bytes = b"{}", **fields: object) -> bytes:
    rest = "".join(f", {json.dumps(key)}: {json.dumps(value)}" for key, value in fields.items())
    return (
        b'{"name": '
        + json.dumps(name).encode()
        + b', "metadata": '
        + metadata
        + rest.encode()
        + b"}"
    )


def nested(depth: int) -> bytes:
    """A metadata object nested `depth` levels deep (the object itself is level 1)."""
    return b'{"a": ' * depth + b"1" + b"}" * depth


async def send(
    client: httpx.AsyncClient, user: Account, method: str, url: str, content: bytes
) -> httpx.Response:
    headers = {**user.headers, "Content-Type": "application/json"}
    return await client.request(method, url, content=content, headers=headers)


async def count_items(client: httpx.AsyncClient, user: Account) -> int:
    response = await client.get("/api/v1/items?limit=200", headers=user.headers)
    return len(response.json())


def assert_exact(text: str) -> None:
    for expected in EXACT_BACK:
        assert expected in text, expected


async def test_metadata_numbers_come_back_as_written_from_every_write(
    client: httpx.AsyncClient, alice: Account
) -> None:
    created = await send(client, alice, "POST", "/api/v1/items", body("created", EXACT))
    assert created.status_code == 201, created.text
    assert_exact(created.text)
    item_id = created.json()["id"]
    fetched = await client.get(f"/api/v1/items/{item_id}", headers=alice.headers)
    assert_exact(fetched.text)
    listed = await client.get("/api/v1/items", headers=alice.headers)
    assert_exact(listed.text)

    other = str(uuid.uuid4())
    upserted = await send(client, alice, "PUT", f"/api/v1/items/{other}", body("upserted", EXACT))
    assert upserted.status_code == 201, upserted.text
    assert_exact(upserted.text)
    replaced = await send(client, alice, "PUT", f"/api/v1/items/{other}", body("again", EXACT))
    assert replaced.status_code == 200, replaced.text
    assert_exact(replaced.text)

    plain = await client.post("/api/v1/items", json={"name": "plain"}, headers=alice.headers)
    patched = await send(
        client,
        alice,
        "PATCH",
        f"/api/v1/items/{plain.json()['id']}",
        b'{"metadata": ' + EXACT + b"}",
    )
    assert patched.status_code == 200, patched.text
    assert_exact(patched.text)

    batch_id = str(uuid.uuid4())
    batch = b"[" + body("batched", EXACT, id=batch_id) + b"]"
    written = await send(client, alice, "POST", "/api/v1/items/batch", batch)
    assert written.status_code == 200, written.text
    assert_exact((await client.get(f"/api/v1/items/{batch_id}", headers=alice.headers)).text)


async def test_metadata_filter_compares_numbers_as_postgresql_does(
    client: httpx.AsyncClient, alice: Account
) -> None:
    await send(client, alice, "POST", "/api/v1/items", body("ten", b'{"price": 1.10}'))
    await send(
        client, alice, "POST", "/api/v1/items", body("exact", b'{"r": 0.1000000000000000000001}')
    )
    await send(client, alice, "POST", "/api/v1/items", body("tenth", b'{"r": 0.1}'))

    async def found(metadata: str) -> list[str]:
        response = await client.get(
            f"/api/v1/items?metadata={quote(metadata)}", headers=alice.headers
        )
        assert response.status_code == 200, response.text
        return [item["name"] for item in response.json()]

    assert await found('{"price": 1.1}') == ["ten"]
    assert await found('{"price": 1.100}') == ["ten"]
    assert await found('{"r": 0.1000000000000000000001}') == ["exact"]
    assert await found('{"r": 0.1}') == ["tenth"]


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        (b'{"k": "a\\u0000b"}', "NUL"),
        (b'{"a\\u0000": 1}', "NUL"),
        (b'{"deep": [' + b'{"k": "\\u0000"}' + b"]}", "NUL"),
        (b'{"n": 1e131072}', "numeric"),
        (b'{"n": 1e-16384}', "numeric"),
        (b'{"n": 1e999999999999999999999}', "numeric"),  # beyond Decimal's exponents
        (b'{"n": 0e99999999999}', "numeric"),  # a zero, but PostgreSQL refuses the exponent
        (b'{"n": 0e-16384}', "numeric"),
        # Within numeric's range, but printed in full: 131,072 and 16,385 characters.
        (b'{"n": 1e131071}', "1000 characters"),
        (b'{"n": 1e-16383}', "1000 characters"),
        (b'{"n": [' + b", ".join([b"1e131071"] * 100) + b"]}", "1000 characters"),
        (b'{"n": ' + b"7" * 1001 + b"}", "1000 characters"),
        (b'{"n": 1.' + b"7" * 950 + b"e-60}", "1000 characters"),
        # Each prints 1,000 characters; together 99,500 more than written.
        (b'{"n": [' + b", ".join([b"1e999"] * 100) + b"]}", "longer"),
        (nested(33), "32 levels"),
        (b'{"a": ' + b"[" * 40 + b"]" * 40 + b"}", "32 levels"),
        (nested(1000), "32 levels"),
        (b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}", "32 levels"),
        (b"[1, 2]", "must be a JSON object, got an array"),
        (b"null", "must be a JSON object, got null"),
        (b"1.5", "must be a JSON object, got a number"),
    ],
)
async def test_bad_metadata_is_422_naming_metadata_in_every_write(
    client: httpx.AsyncClient, alice: Account, metadata: bytes, message: str
) -> None:
    item_id = str(uuid.uuid4())
    attempts = [
        ("POST", "/api/v1/items", body("x", metadata), "$.metadata"),
        ("PUT", f"/api/v1/items/{item_id}", body("x", metadata), "$.metadata"),
        ("PATCH", f"/api/v1/items/{item_id}", b'{"metadata": ' + metadata + b"}", "$.metadata"),
        (
            "POST",
            "/api/v1/items/batch",
            b"[" + body("fine") + b", " + body("x", metadata) + b"]",
            "$[1].metadata",
        ),
    ]
    for method, url, content, field in attempts:
        document = problem(await send(client, alice, method, url, content), 422)
        assert document["errors"][0]["field"] == field, (method, document)
        assert message in document["detail"], document
        assert "database" not in document["detail"]
    assert await count_items(client, alice) == 0


async def test_numbers_that_print_within_the_bounds_are_accepted(
    client: httpx.AsyncClient, alice: Account
) -> None:
    extremes = b'{"max": 1.7976931348623157e308, "min": 5e-324, "n": -1e-997, "e": 1e999}'
    created = await send(client, alice, "POST", "/api/v1/items", body("doubles", extremes))
    assert created.status_code == 201, created.text
    assert len(str(created.json()["metadata"]["e"])) == 1000
    # 65 numbers of 1,000 characters: 64,675 characters more than written, within 64 KiB.
    many = b'{"n": [' + b", ".join([b"1e999"] * 65) + b"]}"
    created = await send(client, alice, "POST", "/api/v1/items", body("many", many))
    assert created.status_code == 201, created.text


async def test_metadata_of_32_levels_is_accepted(client: httpx.AsyncClient, alice: Account) -> None:
    created = await send(client, alice, "POST", "/api/v1/items", body("deep", nested(32)))
    assert created.status_code == 201, created.text
    filtered = await client.get(
        f"/api/v1/items?metadata={quote(nested(32).decode())}", headers=alice.headers
    )
    assert [item["name"] for item in filtered.json()] == ["deep"]


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        (nested(33).decode(), "32 levels"),
        ('{"a": ' + "[" * 1000 + "]" * 1000 + "}", "32 levels"),
        ("[" * 1000 + "]" * 1000, "32 levels"),
        ('{"k": "\\u0000"}', "NUL"),
        ("[1]", "must be a JSON object"),
        ("{", "JSON object"),
    ],
)
async def test_bad_metadata_filter_is_422_naming_the_parameter(
    client: httpx.AsyncClient, alice: Account, metadata: str, message: str
) -> None:
    response = await client.get(f"/api/v1/items?metadata={quote(metadata)}", headers=alice.headers)
    document = problem(response, 422)
    assert document["errors"][0]["field"] == "query.metadata"
    assert message in document["detail"]


def decomposed(text: str) -> str:
    return unicodedata.normalize("NFD", text)


async def test_text_is_stored_in_nfc(client: httpx.AsyncClient, alice: Account) -> None:
    name, description, tag = (
        decomposed("Zürich café"),
        decomposed("Crème brûlée"),
        decomposed("café"),
    )
    created = await client.post(
        "/api/v1/items",
        json={"name": name, "description": description, "tags": [tag]},
        headers=alice.headers,
    )
    item = created.json()
    assert (item["name"], item["description"], item["tags"]) == (
        "Zürich café",
        "Crème brûlée",
        ["café"],
    )
    patched = await client.patch(
        f"/api/v1/items/{item['id']}",
        json={"name": decomposed("Ångström"), "tags": [decomposed("Ölçü")]},
        headers=alice.headers,
    )
    assert (patched.json()["name"], patched.json()["tags"]) == ("Ångström", ["Ölçü"])
    batch = await client.post(
        "/api/v1/items/batch", json=[{"name": decomposed("Señor")}], headers=alice.headers
    )
    batch_id = batch.json()["items"][0]["id"]
    fetched = await client.get(f"/api/v1/items/{batch_id}", headers=alice.headers)
    assert fetched.json()["name"] == "Señor"


@pytest.mark.parametrize("stored_decomposed", [True, False])
async def test_either_unicode_form_finds_the_other(
    client: httpx.AsyncClient, alice: Account, stored_decomposed: bool
) -> None:
    def form(text: str, decompose: bool) -> str:
        return decomposed(text) if decompose else unicodedata.normalize("NFC", text)

    await client.post(
        "/api/v1/items",
        json={
            "name": form("Zürich map", stored_decomposed),
            "tags": [form("café", stored_decomposed)],
        },
        headers=alice.headers,
    )
    await client.post(
        "/api/v1/items", json={"name": "Zurich", "tags": ["cafe"]}, headers=alice.headers
    )
    asked = not stored_decomposed
    for query in (f"q={quote(form('Zürich', asked))}", f"q={quote(form('zürich map', asked))}"):
        response = await client.get(f"/api/v1/items?{query}", headers=alice.headers)
        assert "Zürich map" in [item["name"] for item in response.json()], query
    for name in ("tags", "tags_all"):  # tags are compared exactly, in NFC: "cafe" is another tag
        response = await client.get(
            f"/api/v1/items?{name}={quote(form('café', asked))}", headers=alice.headers
        )
        assert [item["name"] for item in response.json()] == ["Zürich map"], name


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ([" garden "], "whitespace"),
        (["garden "], "whitespace"),
        (["\u00a0garden"], "whitespace"),
        (["ok", "   "], "blank"),
        (["\t"], "blank"),
        # Findings: invisible characters (Default_Ignorable_Code_Point) counted as visible.
        (["kitchen\u200b"], "invisible"),
        (["\ufeffkitchen"], "invisible"),
        (["\u200b"], "blank"),
        (["\u00ad\u2060"], "blank"),
        (["x" * 65], "at most 64 characters"),
    ],
)
async def test_tags_with_surrounding_whitespace_or_blank_are_refused(
    client: httpx.AsyncClient, alice: Account, tags: list[str], message: str
) -> None:
    field = f"$.tags[{len(tags) - 1}]"
    document = problem(
        await client.post("/api/v1/items", json={"name": "x", "tags": tags}, headers=alice.headers),
        422,
    )
    assert (document["errors"][0]["field"], message in document["detail"]) == (field, True)
    batch = await client.post(
        "/api/v1/items/batch", json=[{"name": "x", "tags": tags}], headers=alice.headers
    )
    assert problem(batch, 422)["errors"][0]["field"] == "$[0]" + field[1:]
    patch_target = await client.post(
        "/api/v1/items", json={"name": "target"}, headers=alice.headers
    )
    patched = await client.patch(
        f"/api/v1/items/{patch_target.json()['id']}", json={"tags": tags}, headers=alice.headers
    )
    assert problem(patched, 422)["errors"][0]["field"] == field
    assert await count_items(client, alice) == 1


@pytest.mark.parametrize(
    "value",
    [
        "%20garden%20",
        "garden%20",
        "%20",
        "a,,b",
        "a,",
        "%E3%80%80x",
        "a%00b",
        "a%E2%80%8B",
        "x" * 65,
    ],
)
@pytest.mark.parametrize("name", ["tags", "tags_all"])
async def test_tag_filters_refuse_what_writes_refuse(
    client: httpx.AsyncClient, alice: Account, name: str, value: str
) -> None:
    response = await client.get(f"/api/v1/items?{name}={value}", headers=alice.headers)
    assert problem(response, 422)["errors"][0]["field"] == f"query.{name}"


@pytest.mark.parametrize(
    "name", ["   ", "\t\n", "\u3000", "\u00a0 ", "\u200b", "\u200d\ufe0f", " \u2060\u00ad"]
)
async def test_blank_name_is_refused(client: httpx.AsyncClient, alice: Account, name: str) -> None:
    created = await client.post("/api/v1/items", json={"name": name}, headers=alice.headers)
    assert problem(created, 422)["errors"][0]["field"] == "$.name"
    kept = await client.post("/api/v1/items", json={"name": "kept"}, headers=alice.headers)
    patched = await client.patch(
        f"/api/v1/items/{kept.json()['id']}", json={"name": name}, headers=alice.headers
    )
    assert problem(patched, 422)["errors"][0]["field"] == "$.name"
    batch = await client.post("/api/v1/items/batch", json=[{"name": name}], headers=alice.headers)
    assert problem(batch, 422)["errors"][0]["field"] == "$[0].name"
    assert await count_items(client, alice) == 1


async def test_lengths_count_the_stored_nfc_form(client: httpx.AsyncClient, alice: Account) -> None:
    """Finding: a name, tag or description sent in NFD was measured before NFC, so 60 accented
    letters from macOS counted 120 and were refused though they store as 60."""
    name, tag = decomposed("é" * 100), decomposed("ü" * 64)
    description = decomposed("ô" * 10_000)
    assert (len(name), len(tag), len(description)) == (200, 128, 20_000)
    created = await client.post(
        "/api/v1/items",
        json={"name": name, "tags": [tag], "description": description},
        headers=alice.headers,
    )
    assert created.status_code == 201, created.text
    item = created.json()
    assert (item["name"], item["tags"], item["description"]) == (
        "é" * 100,
        ["ü" * 64],
        "ô" * 10_000,
    )
    patched = await client.patch(
        f"/api/v1/items/{item['id']}", json={"name": decomposed("å" * 100)}, headers=alice.headers
    )
    assert patched.json()["name"] == "å" * 100


@pytest.mark.parametrize(
    ("body", "field", "limit"),
    [
        ({"name": "x" * 101}, "$.name", 100),
        ({"name": "x" * 401}, "$.name", 100),
        ({"name": decomposed("é" * 101)}, "$.name", 100),
        ({"name": "x", "description": "d" * 10_001}, "$.description", 10_000),
        ({"name": "x", "tags": [decomposed("ü" * 65)]}, "$.tags[0]", 64),
        ({"name": "x", "tags": ["t" * 257]}, "$.tags[0]", 64),
    ],
)
async def test_a_text_longer_than_its_limit_in_nfc_is_422_naming_that_limit(
    client: httpx.AsyncClient, alice: Account, body: dict[str, object], field: str, limit: int
) -> None:
    document = problem(await client.post("/api/v1/items", json=body, headers=alice.headers), 422)
    assert document["errors"][0]["field"] == field
    assert f"at most {limit} characters" in document["errors"][0]["message"], document
    assert await count_items(client, alice) == 0


async def test_duplicate_tags_are_stored_once_in_first_seen_order_and_case_matters(
    client: httpx.AsyncClient, alice: Account
) -> None:
    tags = ["x", "Garden", "x", "garden", decomposed("café"), "café", "Garden"]
    created = await client.post(
        "/api/v1/items", json={"name": "tagged", "tags": tags}, headers=alice.headers
    )
    assert created.json()["tags"] == ["x", "Garden", "garden", "café"]
    other = await client.post(
        "/api/v1/items", json={"name": "lower", "tags": ["garden"]}, headers=alice.headers
    )
    assert other.status_code == 201
    upper = await client.get("/api/v1/items?tags=Garden", headers=alice.headers)
    assert [item["name"] for item in upper.json()] == ["tagged"]
    both = await client.get("/api/v1/items?tags=garden", headers=alice.headers)
    assert sorted(item["name"] for item in both.json()) == ["lower", "tagged"]
    patched = await client.patch(
        f"/api/v1/items/{created.json()['id']}",
        json={"tags": ["b", "a", "b"]},
        headers=alice.headers,
    )
    assert patched.json()["tags"] == ["b", "a"]


async def test_nul_in_the_search_text_is_422_naming_q(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.get("/api/v1/items?q=a%00b", headers=alice.headers)
    document = problem(response, 422)
    assert document["errors"][0]["field"] == "query.q"
    assert "database" not in document["detail"]


async def test_large_bodies_are_checked_exactly_in_a_worker_thread(
    client: httpx.AsyncClient, alice: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above OFF_LOOP_BYTES the metadata check runs off the event loop, with the same verdicts
    (the threshold lowered below the test app's 64 KiB body limit)."""
    monkeypatch.setattr(item_input, "OFF_LOOP_BYTES", 4096)
    numbers = b", ".join(b"1.5e5" for _ in range(2_000))  # about 14 KB, every number exact
    large = b'{"n": [' + numbers + b"]}"
    assert len(large) > item_input.OFF_LOOP_BYTES
    created = await send(client, alice, "POST", "/api/v1/items", body("large", large))
    assert created.status_code == 201, created.text
    assert created.json()["metadata"]["n"][:2] == [150000, 150000]  # 1.5e5, as numeric has it
    refused = large.replace(b"1.5e5]", b"1e999999999999999999999]")
    for method, url, content, field in [
        ("POST", "/api/v1/items", body("x", refused), "$.metadata"),
        ("PATCH", f"/api/v1/items/{created.json()['id']}", b'{"metadata": ' + refused + b"}",
         "$.metadata"),
        ("POST", "/api/v1/items/batch", b"[" + body("x", refused) + b"]", "$[0].metadata"),
    ]:  # fmt: skip
        document = problem(await send(client, alice, method, url, content), 422)
        assert document["errors"][0]["field"] == field
        assert "numeric" in document["detail"]
    assert await count_items(client, alice) == 1


async def test_clean_body_runs_large_bodies_off_the_event_loop() -> None:
    seen: list[int] = []
    await item_input.clean_body(item_input.OFF_LOOP_BYTES, lambda: seen.append(get_ident()))
    await item_input.clean_body(item_input.OFF_LOOP_BYTES + 1, lambda: seen.append(get_ident()))
    assert seen[0] == get_ident() != seen[1]
