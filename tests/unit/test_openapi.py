"""The OpenAPI document tells the truth: operation ids, every status with the problem schema,
JSON query parameters, patterns that mean the same in Python and ECMA-262."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from api.openapi import build_openapi

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
PROBLEM = {"$ref": "#/components/schemas/Problem"}


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return build_openapi()


def test_every_operation_has_a_unique_operation_id(spec: dict[str, Any]) -> None:
    ids = [operation.get("operationId") for _, _, operation in _operations(spec)]
    assert all(ids), ids
    assert len(ids) == len(set(ids))


def test_every_error_status_is_documented_with_the_problem_schema(spec: dict[str, Any]) -> None:
    for path, method, operation in _operations(spec):
        responses = operation["responses"]
        for status in ("400", "405", "431", "501", "505"):
            assert status in responses, (path, method, status)
        if path != "/healthz":
            assert "503" in responses, (path, method)
        if operation.get("security"):
            assert "401" in responses, (path, method)
        if "requestBody" in operation:
            assert {"413", "415"} <= set(responses), (path, method)
        for status, response in responses.items():
            if int(status) >= 400:
                (content,) = response["content"].values()
                assert content["schema"] == PROBLEM, (path, method, status)


def test_statuses_each_operation_answers_are_documented(spec: dict[str, Any]) -> None:
    paths = spec["paths"]
    assert "412" in paths["/api/v1/items/{id}"]["put"]["responses"]
    assert "412" in paths["/api/v1/items/{id}"]["delete"]["responses"]
    assert "409" in paths["/api/v1/items"]["post"]["responses"]
    assert "409" in paths["/api/v1/items/batch"]["post"]["responses"]
    assert "429" in paths["/api/v1/auth/token"]["post"]["responses"]
    assert "404" in paths["/api/v1/users/{id}"]["get"]["responses"]


def test_metadata_is_a_json_object_in_the_query(spec: dict[str, Any]) -> None:
    parameters = spec["paths"]["/api/v1/items"]["get"]["parameters"]
    (metadata,) = [p for p in parameters if p["name"] == "metadata"]
    assert "schema" not in metadata
    assert metadata["content"] == {"application/json": {"schema": {"type": "object"}}}


def test_a_patch_body_needs_a_field(spec: dict[str, Any]) -> None:
    assert spec["components"]["schemas"]["ItemPatch"]["minProperties"] == 1


def _patterns(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            else:
                yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


def test_patterns_use_no_class_that_differs_between_python_and_ecma_262(
    spec: dict[str, Any],
) -> None:
    # \s, \d, \w and \b are Unicode-aware in Python's re and mean other sets in ECMA-262.
    patterns = list(_patterns(spec))
    assert patterns
    for pattern in patterns:
        re.compile(pattern)
        assert not re.search(r"(?<!\\)\\[sSdDwWbB]", pattern), pattern


def test_ids_in_paths_are_canonical_uuids(spec: dict[str, Any]) -> None:
    for path in ("/api/v1/items/{id}", "/api/v1/users/{id}", "/api/v1/api-keys/{id}"):
        (parameter,) = spec["paths"][path]["parameters"]
        assert parameter["schema"]["format"] == "uuid"
        assert re.fullmatch(
            parameter["schema"]["pattern"].strip("^$"), "0B7E6F2C-5F1E-4C1A-9A55-2F6A3C1F2B10"
        )


def test_the_key_list_documents_its_pages_and_the_key_limit(spec: dict[str, Any]) -> None:
    keys = spec["paths"]["/api/v1/api-keys"]
    listing = keys["get"]
    params = {p["name"]: p for p in listing["parameters"]}
    assert params["limit"]["in"] == "query"
    assert params["limit"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 200,
        "default": 50,
    }
    assert params["cursor"]["schema"]["type"] == "string"
    assert "Link" in listing["responses"]["200"]["headers"]
    assert "422" in listing["responses"]
    assert "API_KEYS_MAX_PER_USER" in keys["post"]["responses"]["403"]["description"]
    name = spec["components"]["schemas"]["NewApiKey"]["properties"]["name"]
    assert name["maxLength"] == 100  # counted in NFC, as the server counts
    assert "\\u202e" in name["pattern"]


def test_header_parameters_are_strings(spec: dict[str, Any]) -> None:
    """A parameter's `schema` is a Schema Object: a Header Object ({"schema": …}, as response
    headers take) in its place describes any value, not the string a header is."""
    for path, method, operation in _operations(spec):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "header":
                assert parameter["schema"].get("type") == "string", (path, method, parameter)
