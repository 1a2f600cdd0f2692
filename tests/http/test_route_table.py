"""api/routes.py is the one list of routes: the app registers exactly it, the OpenAPI document
describes exactly its operations, sql/routes.json records what each of its routes runs, and
docs/api.md lists it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from api.openapi import build_openapi
from api.routes import ROUTES, SiteHandlers
from api.settings import Settings
from api.sqltools import usage
from api.sqltools.statements import read_statements
from tests import ROOT
from tests.record_routes import record
from tests.statement_log import unrecorded

METHODS = ("get", "put", "post", "delete", "patch")
DOCS = ROOT / "docs" / "api.md"
# What the document says of each operation, in its order: route, operationId, scopes (None: no
# credential), parameters, request media types, response statuses.
OPERATIONS = [
    (
        "POST /api/v1/items",
        "createItem",
        ("items:write",),
        ("Idempotency-Key",),
        ("application/json",),
        "201 400 401 403 405 409 413 415 422 429 431 501 503 505",
    ),
    (
        "GET /api/v1/items",
        "listItems",
        ("items:read",),
        (
            "tags",
            "tags_all",
            "metadata",
            "q",
            "created_after",
            "created_before",
            "sort",
            "limit",
            "cursor",
            "fields",
            "Prefer",
            "Consistency-Token",
        ),
        (),
        "200 400 401 403 405 422 429 431 501 503 505",
    ),
    (
        "GET /api/v1/items/export",
        "exportItems",
        ("items:read",),
        ("tags", "tags_all", "metadata", "q", "created_after", "created_before", "sort", "format"),
        (),
        "200 400 401 403 405 406 422 429 431 501 503 505",
    ),
    (
        "POST /api/v1/items/import",
        "importItems",
        ("items:write",),
        ("Idempotency-Key",),
        ("application/x-ndjson", "text/csv"),
        "200 400 401 403 405 409 413 415 422 429 431 501 503 505",
    ),
    (
        "POST /api/v1/items/batch",
        "upsertItems",
        ("items:write",),
        ("Idempotency-Key",),
        ("application/json",),
        "200 400 401 403 405 409 413 415 422 429 431 501 503 505",
    ),
    (
        "GET /api/v1/items/{id}",
        "getItem",
        ("items:read",),
        ("If-Match", "If-None-Match", "fields", "Consistency-Token"),
        (),
        "200 304 400 401 403 404 405 412 422 429 431 501 503 505",
    ),
    (
        "PUT /api/v1/items/{id}",
        "putItem",
        ("items:write",),
        ("If-Match", "If-None-Match"),
        ("application/json",),
        "200 201 400 401 403 404 405 412 413 415 422 429 431 501 503 505",
    ),
    (
        "PATCH /api/v1/items/{id}",
        "patchItem",
        ("items:write",),
        ("If-Match", "If-None-Match"),
        ("application/json",),
        "200 400 401 403 404 405 412 413 415 422 429 431 501 503 505",
    ),
    (
        "DELETE /api/v1/items/{id}",
        "deleteItem",
        ("items:write",),
        ("If-Match", "If-None-Match"),
        (),
        "204 400 401 403 404 405 412 422 429 431 501 503 505",
    ),
    (
        "POST /api/v1/auth/token",
        "issueToken",
        None,
        (),
        ("application/x-www-form-urlencoded",),
        "200 400 405 413 415 429 431 501 503 505",
    ),
    (
        "GET /api/v1/users/me",
        "getCurrentUser",
        (),
        (),
        (),
        "200 400 401 404 405 429 431 501 503 505",
    ),
    (
        "GET /api/v1/users/{id}",
        "getUser",
        (),
        (),
        (),
        "200 400 401 403 404 405 422 429 431 501 503 505",
    ),
    (
        "POST /api/v1/users",
        "createUser",
        ("admin",),
        (),
        ("application/json",),
        "201 400 401 403 405 409 413 415 422 429 431 501 503 505",
    ),
    (
        "POST /api/v1/api-keys",
        "createApiKey",
        ("keys:manage",),
        (),
        ("application/json",),
        "201 400 401 403 405 413 415 422 429 431 501 503 505",
    ),
    (
        "GET /api/v1/api-keys",
        "listApiKeys",
        ("keys:manage",),
        ("limit", "cursor"),
        (),
        "200 400 401 403 405 422 429 431 501 503 505",
    ),
    (
        "DELETE /api/v1/api-keys/{id}",
        "revokeApiKey",
        ("keys:manage",),
        (),
        (),
        "204 400 401 403 404 405 422 429 431 501 503 505",
    ),
    ("GET /healthz", "getHealth", None, (), (), "200 400 405 431 501 505"),
    ("GET /readyz", "getReadiness", None, (), (), "200 400 405 431 501 503 505"),
]


def _summary(spec: dict[str, Any]) -> list[tuple[Any, ...]]:
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            security = operation.get("security")
            found.append(
                (
                    f"{method.upper()} {path}",
                    operation["operationId"],
                    None if security is None else tuple(security[0]["bearer"]),
                    tuple(p["name"] for p in operation.get("parameters", [])),
                    tuple(operation.get("requestBody", {}).get("content", {})),
                    " ".join(operation["responses"]),
                )
            )
    return found


def test_the_document_describes_each_operation_as_before() -> None:
    spec = build_openapi()
    assert _summary(spec) == OPERATIONS
    for path in ("/api/v1/items/{id}", "/api/v1/users/{id}", "/api/v1/api-keys/{id}"):
        (parameter,) = spec["paths"][path]["parameters"]
        assert (parameter["name"], parameter["in"], parameter["required"]) == ("id", "path", True)


def test_every_api_route_is_an_operation_and_every_operation_a_route() -> None:
    spec = build_openapi()
    operations = {
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method in METHODS
        if method in item
    }
    described = {route.label for route in ROUTES if route.operation is not None}
    assert operations == described
    for route in ROUTES:
        is_api = route.path.startswith("/api/") or route.path in ("/healthz", "/readyz")
        assert (route.operation is not None) == is_api, route.label


def test_the_app_registers_exactly_the_table_with_head_for_each_get(app: Any) -> None:
    registered = sorted(
        (method.decode(), route.pattern.decode())
        for method, routes in app.router.routes.items()
        for route in routes
    )
    expected = sorted(
        (method, route.path)
        for route in ROUTES
        for method in ((route.method, "HEAD") if route.method == "GET" else (route.method,))
    )
    assert registered == expected


def _service_statements() -> list[str]:
    statements, bad = read_statements()
    assert not bad
    return [s.name for s in statements if not s.is_tooling]


def test_the_catalog_finds_the_recording_complete_and_current() -> None:
    assert usage.problems(usage.Recording.read(), _service_statements()) == []


async def test_the_recording_is_what_the_routes_run_now(settings: Settings) -> None:
    """tests/record_routes.py drives every route again; sql/routes.json must be its result
    (`python -m tests.record_routes` rewrites it)."""
    recorded = await record(settings)
    assert recorded.text() == usage.RECORDING.read_text(encoding="utf-8")


def test_a_statement_no_route_runs_must_be_marked() -> None:
    recording = usage.Recording.read()
    routes = {
        label: [s for s in run if s != "health/ping"] for label, run in recording.routes.items()
    }
    service = _service_statements()
    problems = usage.problems(usage.Recording(routes, recording.sweep), service)
    assert problems == [
        "no route runs health/ping (sql/routes.json), nor the sweep, and no command is marked as"
        " running it (COMMANDS in api/sqltools/usage.py): run `python -m tests.record_routes`,"
        " mark it, or remove it"
    ]
    stale = usage.Recording(dict(list(recording.routes.items())[1:]), recording.sweep)
    assert usage.problems(stale, service)[0].startswith("sql/routes.json is stale")


def _documented_routes() -> list[str]:
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("\n## Routes\n", 1)[1].split("\n## ", 1)[0]
    labels = []
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split(" | ", 1)[0]
            labels += re.findall(r"`((?:GET|POST|PUT|PATCH|DELETE) /[^`]*)`", first_cell)
    return labels


@pytest.mark.parametrize("listed", [_documented_routes()])
def test_docs_api_md_lists_exactly_the_routes(listed: list[str]) -> None:
    # Swagger UI's files are part of /docs, not routes a reader calls.
    expected = [
        route.label.replace("/*", "/…")
        for route in ROUTES
        if route.handler is not SiteHandlers.docs_asset
    ]
    assert sorted(listed) == sorted(expected)
    assert len(listed) == len(set(listed))


def test_a_route_that_runs_an_unrecorded_statement_is_named() -> None:
    recording = usage.Recording.read()
    runs = {"GET /healthz": {"health/ping"}, "GET /readyz": {"health/ping"}}
    (problem,) = unrecorded(runs, recording)
    assert problem.startswith("GET /healthz ran health/ping, which sql/routes.json does not list")


def test_writes_answer_a_consistency_token_and_item_reads_take_one() -> None:
    """The token's contract (api/consistency.py): on every 2xx of a write, as a request header
    of exactly the routes a replica may serve."""
    spec = build_openapi()
    for route in ROUTES:
        if route.operation is None:
            continue
        operation = spec["paths"][route.path][route.method.lower()]
        names = {p["name"] for p in operation.get("parameters", [])}
        assert ("Consistency-Token" in names) == route.replica_reads, route.label
        for status, response in operation["responses"].items():
            carries = "Consistency-Token" in response.get("headers", {})
            writes = route.method in ("POST", "PUT", "PATCH", "DELETE")
            assert carries == (writes and status.startswith("2")), (route.label, status)
