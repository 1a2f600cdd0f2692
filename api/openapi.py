"""The OpenAPI 3.1 document, built from the same msgspec Structs that decode and encode."""

from __future__ import annotations

from typing import Any

import msgspec

from api.contracts.common import CANONICAL_UUID, CURSOR_LENGTH
from api.contracts.items import (
    ITEM_PAGE_SIZE,
    ITEM_PAGE_SIZE_MAX,
    MAX_BATCH,
    SEARCH_LENGTH,
    STORED_LENGTH,
    TAG_LIST_PATTERN,
    BatchBody,
    BatchResult,
    ItemPatch,
    ItemWrite,
)
from api.contracts.keys import KEY_PAGE_SIZE, KEY_PAGE_SIZE_MAX, CreatedApiKey, NewApiKey
from api.contracts.users import NewUser, TokenResponse
from api.idempotency import KEY_PATTERN, MAX_KEY_FIELD_LENGTH, MAX_KEY_LENGTH
from api.problems import Problem
from queries.api_keys import ApiKey
from queries.items import Item
from queries.users import User

_REF = "#/components/schemas/{name}"
_READ = {"bearer": ["items:read"], "apiKey": ["items:read"]}


def _refine(components: dict[str, Any]) -> None:
    """Say what msgspec cannot know: Raw metadata is a JSON object, *_at fields are date-times,
    and a text's length is counted in NFC (the Structs admit NFC_EXPANSION times more, for NFD)."""
    _stored_lengths(components)
    for schema in components.values():
        for name, prop in schema.get("properties", {}).items():
            if name == "metadata" and not prop:
                prop.update({"type": "object", "description": "Any JSON object"})
            elif name.endswith("_at"):
                for option in prop.get("anyOf", [prop]):
                    if option.get("type") == "string":
                        option["format"] = "date-time"


def _stored_lengths(schema: Any) -> None:
    if isinstance(schema, list):
        for part in schema:
            _stored_lengths(part)
    elif isinstance(schema, dict):
        if schema.get("type") == "string" and schema.get("maxLength") in STORED_LENGTH:
            schema["maxLength"] = STORED_LENGTH[schema["maxLength"]]
        for part in schema.values():
            _stored_lengths(part)


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


# What each error status means on any operation; an operation may say more.
_ERRORS = {
    "400": (
        "Malformed request: not well-formed HTTP/1.1, no Host or several, JSON that does not"
        " parse, or a CORS preflight refused"
    ),
    "401": "Missing, malformed, expired, wrongly signed or revoked credential",
    "403": "The credential lacks the scope, or the resource belongs to another user",
    "404": "No such resource",
    "405": "The path does not answer this method; Allow lists the methods it answers",
    "409": "Conflict with the current state",
    "412": "If-Match or If-None-Match did not hold; ETag carries the current version",
    "413": "Body too large (MAX_BODY_BYTES)",
    "415": "Body is not sent as application/json, or has a Content-Encoding",
    "422": "Invalid input; `errors` names each field",
    "429": (
        "This user has PRINCIPAL_MAX_CONCURRENCY requests in progress already"
        " (/problems/too-many-concurrent-requests); see Retry-After"
    ),
    "431": "Request header fields too large",
    "501": "Request method or transfer coding (other than chunked) not implemented",
    "505": "Not HTTP/1.1 or 1.0",
    "503": "Database unavailable, overloaded, or out of time; retry after Retry-After",
}
# Statuses every operation can answer: the protocol's edges, whatever the handler does.
_ALWAYS = ("400", "405", "431", "501", "505")
_HEADER = {"schema": {"type": "string"}}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "string"}}}


def _errors(*statuses: str, **described: str) -> dict[str, Any]:
    """Problem responses for `statuses` (and _ALWAYS), with _ERRORS' descriptions unless
    `described` gives one (keyword `s409="..."` for status 409)."""
    chosen = {*_ALWAYS, *statuses, *(key[1:] for key in described)}
    if "401" in chosen:  # an authenticated operation: its user's fair share applies
        chosen.add("429")
    responses = {}
    for status in sorted(chosen):
        response = _problem(described.get(f"s{status}", _ERRORS[status]))
        if status in ("409", "429", "503"):
            response["headers"] = _RETRY_AFTER
        responses[status] = response
    return responses


def _parameter(name: str, where: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": description,
        "schema": schema,
    }


def _page_params(*, default: int, maximum: int) -> list[dict[str, Any]]:
    """The keyset paging parameters of a list: its page size and the next page's cursor."""
    return [
        _parameter(
            "limit",
            "query",
            "Page size, a decimal integer",
            {"type": "integer", "minimum": 1, "maximum": maximum, "default": default},
        ),
        _parameter(
            "cursor",
            "query",
            "Opaque cursor from the previous page's Link header",
            {"type": "string", "maxLength": CURSOR_LENGTH},
        ),
    ]


def _uuid(description: str) -> dict[str, Any]:
    schema = {"type": "string", "format": "uuid", "pattern": CANONICAL_UUID}
    return _parameter("id", "path", description, schema)


def build_openapi() -> dict[str, Any]:
    refs, components = _schemas()
    components["ItemPatch"]["minProperties"] = 1  # the server refuses {}: nothing to change

    def body(name: str) -> dict[str, Any]:
        return {"required": True, "content": {"application/json": {"schema": refs[name]}}}

    def item_ok(
        description: str, *, location: bool = False, more: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        headers = {"ETag": _HEADER, **({"Location": _HEADER} if location else {}), **(more or {})}
        return _json(refs["Item"], description, headers)

    item_id = _uuid("The item's id, in its canonical 8-4-4-4-12 form")
    if_match = _parameter(
        "If-Match",
        "header",
        "Write only if the item has one of these strong ETags, or exists (*); RFC 9110 13.1.1",
        _HEADER,
    )
    if_none_match = _parameter(
        "If-None-Match",
        "header",
        "Refuse (412) when the item's ETag matches one of these weakly, or it exists at all "
        "(*: on PUT, create only); RFC 9110 13.1.2",
        _HEADER,
    )
    idempotency_key = _parameter(
        "Idempotency-Key",
        "header",
        "A key unique to this request (draft-ietf-httpapi-idempotency-key-header): a Structured "
        f"Field string or a bare token of 1 to {MAX_KEY_LENGTH} characters. A retry with the same "
        "key and body gets the first request's stored answer again instead of a second write, "
        "marked Idempotency-Replayed: true; it may be stale (the item may have changed or been "
        "deleted since)",
        {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_KEY_FIELD_LENGTH,
            "pattern": KEY_PATTERN,
        },
    )
    replayed = {
        "Idempotency-Replayed": {
            "description": "true on the stored answer of an earlier request with the same "
            "Idempotency-Key, which may be stale; absent on a first answer",
            "schema": {"type": "string", "enum": ["true"]},
        }
    }
    metadata = {
        "name": "metadata",
        "in": "query",
        "required": False,
        "description": "A JSON object the metadata must contain (jsonb @>)",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
    tag_list = {"type": "string", "minLength": 1, "pattern": TAG_LIST_PATTERN}
    list_params = [
        _parameter(name, "query", desc, schema)
        for name, desc, schema in (
            ("tags", "Comma-separated tags; items with any of them", tag_list),
            ("tags_all", "Comma-separated tags; items with all of them", tag_list),
            (
                "q",
                "Fuzzy name search (pg_trgm word similarity), best match first",
                {"type": "string", "minLength": 1, "maxLength": SEARCH_LENGTH},
            ),
            (
                "created_after",
                "RFC 3339 date-time with an offset",
                {"type": "string", "format": "date-time"},
            ),
            (
                "created_before",
                "RFC 3339 date-time with an offset",
                {"type": "string", "format": "date-time"},
            ),
        )
    ]
    list_params.extend(_page_params(default=ITEM_PAGE_SIZE, maximum=ITEM_PAGE_SIZE_MAX))
    list_params.insert(2, metadata)
    item_errors = ("401", "403", "404", "422", "503")
    write_errors = (*item_errors, "412", "413", "415")
    creates = {
        "s403": (
            "The credential lacks the scope, the item belongs to another user, or the user owns"
            " ITEMS_MAX_PER_USER items already and the write would create one"
            " (/problems/item-quota)"
        )
    }
    keyed = {
        **creates,
        "s409": "A request with this Idempotency-Key is still running",
        "s422": "Invalid input, or an Idempotency-Key used for another request",
    }
    paths: dict[str, Any] = {
        "/api/v1/items": {
            "post": {
                "operationId": "createItem",
                "tags": ["items"],
                "summary": "Create an item",
                "security": _security("items:write"),
                "parameters": [idempotency_key],
                "requestBody": body("ItemWrite"),
                "responses": {
                    "201": item_ok(
                        "Created; Location names the new item", location=True, more=replayed
                    ),
                    **_errors("401", "403", "413", "415", "503", **keyed),
                },
            },
            "get": {
                "operationId": "listItems",
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
                    **_errors("401", "403", "422", "503"),
                },
            },
        },
        "/api/v1/items/batch": {
            "post": {
                "operationId": "upsertItems",
                "tags": ["items"],
                "summary": f"Create or replace up to {MAX_BATCH} items at once, all or nothing",
                "security": _security("items:write"),
                "parameters": [idempotency_key],
                "requestBody": body("BatchBody"),
                "responses": {
                    "200": _json(
                        refs["BatchResult"], "Each item's id and whether it was created", replayed
                    ),
                    **_errors("401", "403", "413", "415", "503", **keyed),
                },
            }
        },
        "/api/v1/items/{id}": {
            "parameters": [item_id],
            "get": {
                "operationId": "getItem",
                "tags": ["items"],
                "summary": "Read an item",
                "security": _security("items:read"),
                "parameters": [
                    _parameter(
                        "If-None-Match",
                        "header",
                        "Answer 304 if one of these ETags matches weakly (or *)",
                        _HEADER,
                    )
                ],
                "responses": {
                    "200": item_ok("The item"),
                    "304": {"description": "Not modified", "headers": {"ETag": _HEADER}},
                    **_errors(*item_errors),
                },
            },
            "put": {
                "operationId": "putItem",
                "tags": ["items"],
                "summary": "Create or replace the item with this id (upsert)",
                "security": _security("items:write"),
                "parameters": [if_match, if_none_match],
                "requestBody": body("ItemWrite"),
                "responses": {
                    "200": item_ok("Replaced"),
                    "201": item_ok("Created", location=True),
                    **_errors(*write_errors, **creates),
                },
            },
            "patch": {
                "operationId": "patchItem",
                "tags": ["items"],
                "summary": "Change some fields of an item",
                "security": _security("items:write"),
                "parameters": [if_match, if_none_match],
                "requestBody": body("ItemPatch"),
                "responses": {"200": item_ok("Updated"), **_errors(*write_errors)},
            },
            "delete": {
                "operationId": "deleteItem",
                "tags": ["items"],
                "summary": "Delete an item",
                "security": _security("items:write"),
                "parameters": [if_match, if_none_match],
                "responses": {
                    "204": {"description": "Deleted"},
                    **_errors(*item_errors, "412"),
                },
            },
        },
        "/api/v1/auth/token": {
            "post": {
                "operationId": "issueToken",
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
                    **_errors(
                        "503",
                        s400="OAuth2 error: invalid_grant, invalid_request, invalid_scope, ...",
                        s413="Body too large",
                        s415="Body is not application/x-www-form-urlencoded",
                        s429="Too many failed logins; see Retry-After",
                    ),
                },
            }
        },
        "/api/v1/users/me": {
            "get": {
                "operationId": "getCurrentUser",
                "tags": ["users"],
                "summary": "The calling user",
                "security": _security(),
                "responses": {
                    "200": _json(refs["User"], "The user"),
                    **_errors("401", "404", "503"),
                },
            }
        },
        "/api/v1/users/{id}": {
            "parameters": [_uuid("The user's id")],
            "get": {
                "operationId": "getUser",
                "tags": ["users"],
                "summary": "A user: the caller themself, or anyone to an admin",
                "security": _security(),
                "responses": {
                    "200": _json(refs["User"], "The user"),
                    **_errors("401", "403", "404", "422", "503"),
                },
            },
        },
        "/api/v1/users": {
            "post": {
                "operationId": "createUser",
                "tags": ["users"],
                "summary": "Create a user (admin)",
                "security": _security("admin"),
                "requestBody": body("NewUser"),
                "responses": {
                    "201": _json(refs["User"], "Created", {"Location": _HEADER}),
                    **_errors("401", "403", "413", "415", "422", "503", s409="Email taken"),
                },
            }
        },
        "/api/v1/api-keys": {
            "post": {
                "operationId": "createApiKey",
                "tags": ["api-keys"],
                "summary": "Create an API key; its secret is shown only in this response",
                "security": _security("keys:manage"),
                "requestBody": body("NewApiKey"),
                "responses": {
                    "201": _json(refs["CreatedApiKey"], "Created"),
                    **_errors(
                        "401",
                        "413",
                        "415",
                        "422",
                        "503",
                        s403=(
                            "The credential lacks keys:manage, the key would have scopes or a"
                            " lifetime beyond its creator's, or the user already has"
                            " API_KEYS_MAX_PER_USER keys that still work (type"
                            " /problems/api-key-limit: revoking one frees a place)"
                        ),
                    ),
                },
            },
            "get": {
                "operationId": "listApiKeys",
                "tags": ["api-keys"],
                "summary": (
                    "The API keys the caller may manage, without secrets, newest first, with"
                    " keyset pagination: with a user's token all the user's keys; with an API"
                    " key that key and the keys created with it"
                ),
                "security": _security("keys:manage"),
                "parameters": _page_params(default=KEY_PAGE_SIZE, maximum=KEY_PAGE_SIZE_MAX),
                "responses": {
                    "200": _json(
                        refs["ApiKeyList"],
                        "One page; a Link header with rel=next while more keys exist",
                        {"Link": _HEADER},
                    ),
                    **_errors("401", "403", "422", "503"),
                },
            },
        },
        "/api/v1/api-keys/{id}": {
            "parameters": [_uuid("The key's id")],
            "delete": {
                "operationId": "revokeApiKey",
                "tags": ["api-keys"],
                "summary": (
                    "Revoke an API key and every key created with it, at once: with a user's"
                    " token any key of the user; with an API key that key or one created with it"
                ),
                "security": _security("keys:manage"),
                "responses": {
                    "204": {"description": "Revoked"},
                    **_errors(
                        "401",
                        "403",
                        "422",
                        "503",
                        s404="No such key the caller may revoke",
                    ),
                },
            },
        },
        "/healthz": {
            "get": {
                "operationId": "getHealth",
                "tags": ["ops"],
                "summary": "The process is alive",
                "responses": {"200": {"description": "Alive"}, **_errors()},
            }
        },
        "/readyz": {
            "get": {
                "operationId": "getReadiness",
                "tags": ["ops"],
                "summary": "The database is reachable",
                "responses": {
                    "200": {"description": "Ready"},
                    **_errors(s503="PostgreSQL unreachable from this instance, or shutting down"),
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
                                "keys:manage": "Create, list and revoke one's API keys",
                                "admin": "Change any item, create users",
                            },
                        }
                    },
                },
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }
