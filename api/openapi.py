"""The OpenAPI 3.1 document, built from the same msgspec Structs that decode and encode."""

from __future__ import annotations

from typing import Any

import msgspec

from api.auth.accounts import NewUser
from api.handlers.identity import CreatedApiKey, NewApiKey, TokenResponse
from api.handlers.items import MAX_BATCH, BatchBody, BatchResult
from api.problems import Problem
from queries.api_keys import ApiKey
from queries.items import Item, ItemPatch, ItemWrite
from queries.users import User

_REF = "#/components/schemas/{name}"
_READ = {"bearer": ["items:read"], "apiKey": ["items:read"]}


def _refine(components: dict[str, Any]) -> None:
    """Say what msgspec cannot know: Raw metadata is a JSON object, *_at fields are date-times."""
    for schema in components.values():
        for name, prop in schema.get("properties", {}).items():
            if name == "metadata" and not prop:
                prop.update({"type": "object", "description": "Any JSON object"})
            elif name.endswith("_at"):
                for option in prop.get("anyOf", [prop]):
                    if option.get("type") == "string":
                        option["format"] = "date-time"


def _schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    kinds: dict[str, Any] = {
        "Item": Item,
        "ItemList": list[Item],
        "ItemWrite": ItemWrite,
        "ItemPatch": ItemPatch,
        "BatchBody": BatchBody,
        "BatchResult": BatchResult,
        "Problem": Problem,
        "User": User,
        "NewUser": NewUser,
        "ApiKeyList": list[ApiKey],
        "NewApiKey": NewApiKey,
        "CreatedApiKey": CreatedApiKey,
        "TokenResponse": TokenResponse,
    }
    refs, components = msgspec.json.schema_components(kinds.values(), ref_template=_REF)
    _refine(components)
    return dict(zip(kinds, refs, strict=True)), components


def _json(
    schema: dict[str, Any], description: str, headers: dict[str, Any] | None = None
) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }
    if headers:
        response["headers"] = headers
    return response


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": _REF.format(name="Problem")}}},
    }


def _security(*scopes: str) -> list[dict[str, list[str]]]:
    return [{"bearer": list(scopes)}, {"apiKey": list(scopes)}]


_AUTH_ERRORS = {
    "401": _problem("Missing, malformed, expired, wrongly signed or revoked credential"),
    "403": _problem("The credential lacks the scope, or the item belongs to another user"),
}
_HEADER = {"schema": {"type": "string"}}


def _parameter(name: str, where: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": schema,
    }


def build_openapi() -> dict[str, Any]:
    refs, components = _schemas()

    def body(name: str) -> dict[str, Any]:
        return {"required": True, "content": {"application/json": {"schema": refs[name]}}}

    def item_ok(description: str) -> dict[str, Any]:
        return _json(refs["Item"], description, {"ETag": _HEADER})

    item_id = _parameter("id", "path", "The item's id", {"type": "string", "format": "uuid"})
    if_match = _parameter(
        "If-Match", "header", "Write only if the item still has one of these ETags (or *)", _HEADER
    )
    list_params = [
        _parameter(name, "query", desc, schema)
        for name, desc, schema in (
            ("tags", "Comma-separated tags; items with any of them", {"type": "string"}),
            ("tags_all", "Comma-separated tags; items with all of them", {"type": "string"}),
            ("metadata", "A JSON object the metadata must contain", {"type": "string"}),
            (
                "q",
                "Fuzzy name search (pg_trgm word similarity), best match first",
                {"type": "string", "maxLength": 200},
            ),
            (
                "created_after",
                "RFC 3339 timestamp with offset",
                {"type": "string", "format": "date-time"},
            ),
            (
                "created_before",
                "RFC 3339 timestamp with offset",
                {"type": "string", "format": "date-time"},
            ),
            (
                "limit",
                "Page size",
                {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
            ),
            ("cursor", "Opaque cursor from the previous page's Link header", {"type": "string"}),
        )
    ]
    invalid = _problem("Invalid input; `errors` names each field")
    paths: dict[str, Any] = {
        "/api/v1/items": {
            "post": {
                "tags": ["items"],
                "summary": "Create an item",
                "security": _security("items:write"),
                "requestBody": body("ItemWrite"),
                "responses": {
                    "201": item_ok("Created; Location names the new item"),
                    "400": _problem("Malformed JSON"),
                    **_AUTH_ERRORS,
                    "413": _problem("Body too large"),
                    "415": _problem("Body is not JSON"),
                    "422": invalid,
                },
            },
            "get": {
                "tags": ["items"],
                "summary": "List and search items, with keyset pagination",
                "security": _security("items:read"),
                "parameters": list_params,
                "responses": {
                    "200": _json(
                        refs["ItemList"],
                        "One page; a Link header with rel=next while more rows exist",
                        {"Link": _HEADER},
                    ),
                    **_AUTH_ERRORS,
                    "422": invalid,
                },
            },
        },
        "/api/v1/items/batch": {
            "post": {
                "tags": ["items"],
                "summary": f"Create or replace up to {MAX_BATCH} items at once, all or nothing",
                "security": _security("items:write"),
                "requestBody": body("BatchBody"),
                "responses": {
                    "200": _json(refs["BatchResult"], "Each item's id and whether it was created"),
                    "400": _problem("Malformed JSON"),
                    **_AUTH_ERRORS,
                    "413": _problem("Body too large"),
                    "415": _problem("Body is not JSON"),
                    "422": invalid,
                },
            }
        },
        "/api/v1/items/{id}": {
            "parameters": [item_id],
            "get": {
                "tags": ["items"],
                "summary": "Read an item",
                "security": _security("items:read"),
                "parameters": [
                    _parameter(
                        "If-None-Match", "header", "Answer 304 if the ETag still matches", _HEADER
                    )
                ],
                "responses": {
                    "200": item_ok("The item"),
                    "304": {"description": "Not modified"},
                    **_AUTH_ERRORS,
                    "404": _problem("No such item"),
                    "422": _problem("The id is not a UUID"),
                },
            },
            "put": {
                "tags": ["items"],
                "summary": "Create or replace the item with this id (upsert)",
                "security": _security("items:write"),
                "parameters": [if_match],
                "requestBody": body("ItemWrite"),
                "responses": {
                    "200": item_ok("Replaced"),
                    "201": item_ok("Created"),
                    **_AUTH_ERRORS,
                    "412": _problem("If-Match did not hold"),
                    "413": _problem("Body too large"),
                    "415": _problem("Body is not JSON"),
                    "422": invalid,
                },
            },
            "patch": {
                "tags": ["items"],
                "summary": "Change some fields of an item",
                "security": _security("items:write"),
                "parameters": [if_match],
                "requestBody": body("ItemPatch"),
                "responses": {
                    "200": item_ok("Updated"),
                    **_AUTH_ERRORS,
                    "404": _problem("No such item"),
                    "412": _problem("If-Match did not hold"),
                    "422": invalid,
                },
            },
            "delete": {
                "tags": ["items"],
                "summary": "Delete an item",
                "security": _security("items:write"),
                "responses": {
                    "204": {"description": "Deleted"},
                    **_AUTH_ERRORS,
                    "404": _problem("No such item"),
                    "422": _problem("The id is not a UUID"),
                },
            },
        },
        "/api/v1/auth/token": {
            "post": {
                "tags": ["auth"],
                "summary": "OAuth2 password grant: exchange email and password for an access token",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "required": ["grant_type", "username", "password"],
                                "properties": {
                                    "grant_type": {"const": "password"},
                                    "username": {"type": "string"},
                                    "password": {"type": "string"},
                                    "scope": {"type": "string"},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(refs["TokenResponse"], "An access token"),
                    "400": _problem(
                        "OAuth2 error: invalid_grant, invalid_request, invalid_scope, ..."
                    ),
                    "415": _problem("Body is not form-encoded"),
                    "429": _problem("Too many failed logins; see Retry-After"),
                },
            }
        },
        "/api/v1/users/me": {
            "get": {
                "tags": ["users"],
                "summary": "The calling user",
                "security": _security(),
                "responses": {"200": _json(refs["User"], "The user"), "401": _AUTH_ERRORS["401"]},
            }
        },
        "/api/v1/users": {
            "post": {
                "tags": ["users"],
                "summary": "Create a user (admin)",
                "security": _security("admin"),
                "requestBody": body("NewUser"),
                "responses": {
                    "201": _json(refs["User"], "Created"),
                    **_AUTH_ERRORS,
                    "409": _problem("Email taken"),
                    "422": invalid,
                },
            }
        },
        "/api/v1/api-keys": {
            "post": {
                "tags": ["api-keys"],
                "summary": "Create an API key; its secret is shown only in this response",
                "security": _security(),
                "requestBody": body("NewApiKey"),
                "responses": {
                    "201": _json(refs["CreatedApiKey"], "Created"),
                    **_AUTH_ERRORS,
                    "422": invalid,
                },
            },
            "get": {
                "tags": ["api-keys"],
                "summary": "The caller's API keys, without secrets",
                "security": _security(),
                "responses": {"200": _json(refs["ApiKeyList"], "Keys"), "401": _AUTH_ERRORS["401"]},
            },
        },
        "/api/v1/api-keys/{id}": {
            "parameters": [
                _parameter("id", "path", "The key's id", {"type": "string", "format": "uuid"})
            ],
            "delete": {
                "tags": ["api-keys"],
                "summary": "Revoke an API key at once",
                "security": _security(),
                "responses": {
                    "204": {"description": "Revoked"},
                    "401": _AUTH_ERRORS["401"],
                    "404": _problem("No such key of yours"),
                },
            },
        },
        "/healthz": {
            "get": {
                "tags": ["ops"],
                "summary": "The process is alive",
                "responses": {"200": {"description": "Alive"}},
            }
        },
        "/readyz": {
            "get": {
                "tags": ["ops"],
                "summary": "The database is reachable",
                "responses": {
                    "200": {"description": "Ready"},
                    "503": _problem("PostgreSQL unreachable from this instance, or shutting down"),
                },
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Items API",
            "version": "1.0.0",
            "description": "Items over PostgreSQL. Errors are RFC 9457 problem documents.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {
                    "type": "oauth2",
                    "description": "A JWT from the password grant, or an API key",
                    "flows": {
                        "password": {
                            "tokenUrl": "/api/v1/auth/token",
                            "scopes": {
                                "items:read": "Read items",
                                "items:write": "Create, change and delete items",
                                "admin": "Change any item, create users",
                            },
                        }
                    },
                },
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }
