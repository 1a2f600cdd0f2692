"""The OpenAPI 3.1 document, built from the same msgspec Structs that decode and encode."""

from __future__ import annotations

from typing import Any

import msgspec

from api.contracts.common import CANONICAL_UUID, CURSOR_LENGTH
from api.contracts.items import (
    EXPORT_FORMATS,
    ITEM_COUNT_CAP,
    ITEM_PAGE_SIZE,
    ITEM_PAGE_SIZE_MAX,
    SEARCH_LENGTH,
    STORED_LENGTH,
    TAG_LIST_PATTERN,
    BatchBody,
    BatchResult,
    ImportResult,
    ItemPatch,
    ItemWrite,
)
from api.contracts.keys import KEY_PAGE_SIZE, KEY_PAGE_SIZE_MAX, CreatedApiKey, NewApiKey
from api.contracts.users import NewUser, TokenResponse
from api.idempotency import KEY_PATTERN, MAX_KEY_FIELD_LENGTH, MAX_KEY_LENGTH
from api.problems import Problem
from api.routes import PATH_IDS, ROUTES, Operation
from queries.api_keys import ApiKey
from queries.items import DEFAULT_SORT, FIELDS, SORTS, Item
from queries.users import User

_REF = "#/components/schemas/{name}"


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
        "ImportResult": ImportResult,
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
    named = dict(zip(kinds, refs, strict=True))
    # GET /items/{id}?fields=… and GET /items?fields=…: the fields asked for alone, in the item's
    # order.
    some = {key: value for key, value in components["Item"].items() if key != "required"}
    components["ItemFields"] = {
        **some,
        "title": "ItemFields",
        "description": "Some fields of an item (`fields`), each as in Item",
        "minProperties": 1,
        "additionalProperties": False,
    }
    components["ItemRead"] = {
        "title": "ItemRead",
        "anyOf": [named["Item"], {"$ref": _REF.format(name="ItemFields")}],
    }
    named["ItemRead"] = {"$ref": _REF.format(name="ItemRead")}
    named["ItemList"] = {"type": "array", "items": named["ItemRead"]}
    return named, components


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
    "413": "Body too large (MAX_BODY_BYTES; an import: IMPORT_MAX_BYTES)",
    "415": "Body is not sent as application/json (an import: application/x-ndjson or text/csv),"
    " or has a Content-Encoding",
    "406": "Accept takes none of the media types the operation answers",
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
_STRING = {"type": "string"}
# A response header's Header Object; a request header parameter takes _STRING as its schema.
_HEADER = {"schema": _STRING}
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


def _parameters() -> dict[str, list[dict[str, Any]]]:
    """The parameters api/routes.py names, by their name there."""
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
    metadata = {
        "name": "metadata",
        "in": "query",
        "required": False,
        "description": "A JSON object the metadata must contain (jsonb @>)",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
    tag_list = {"type": "string", "minLength": 1, "pattern": TAG_LIST_PATTERN}
    filters = [
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
    filters.insert(2, metadata)
    field_list = "|".join(FIELDS)
    fields = _parameter(
        "fields",
        "query",
        "Comma-separated names of the item's fields to answer, alone, in the item's order (each"
        " item's, on a list); an item's ETag stays the whole item's",
        {"type": "string", "pattern": f"^(?:{field_list})(?:,(?:{field_list}))*$"},
    )
    sort = _parameter(
        "sort",
        "query",
        "One field to order by, or name then a time (name,-created_at), `-` for descending"
        f" (default {DEFAULT_SORT}; with q: relevance unless sort is given); the id breaks ties"
        " the way the last field goes. Without q, only the default takes tags, tags_all,"
        " metadata, and created_at the creation window (422 query.sort); with q, every sort"
        " takes every filter",
        {"type": "string", "enum": list(SORTS)},
    )
    prefer = _parameter(
        "Prefer",
        "header",
        "count=exact: the number of matching items (every filter), counted up to"
        f" {ITEM_COUNT_CAP:,} ({ITEM_COUNT_CAP}+ past it); count=estimated: the planner's"
        " estimate without filters or with tags, tags_all and the creation window, else (metadata,"
        " q) an exact count. Answered in Content-Range and Preference-Applied; a count that does"
        " not fit the request's budget is left out (RFC 7240), the page answered without it",
        _STRING,
    )
    export_format = _parameter(
        "format",
        "query",
        "ndjson (application/x-ndjson) or csv (text/csv); without it, the Accept header chooses"
        " (NDJSON when it allows both equally, or is absent)",
        {"type": "string", "enum": list(EXPORT_FORMATS)},
    )
    return {
        "export format": [export_format],
        "fields": [fields],
        "item sort": [sort],
        "Prefer count": [prefer],
        "Idempotency-Key": [idempotency_key],
        "If-Match": [
            _parameter(
                "If-Match",
                "header",
                "Write only if the item has one of these strong ETags, or exists (*); "
                "RFC 9110 13.1.1",
                _STRING,
            )
        ],
        "If-None-Match": [
            _parameter(
                "If-None-Match",
                "header",
                "Refuse (412) when the item's ETag matches one of these weakly, or it exists at "
                "all (*: on PUT, create only); RFC 9110 13.1.2",
                _STRING,
            )
        ],
        "If-Match (read)": [
            _parameter(
                "If-Match",
                "header",
                "Answer 412 unless the item has one of these strong ETags, or exists (*); "
                "RFC 9110 13.1.1",
                _STRING,
            )
        ],
        "If-None-Match (read)": [
            _parameter(
                "If-None-Match",
                "header",
                "Answer 304 if one of these ETags matches weakly (or *)",
                _STRING,
            )
        ],
        "Consistency-Token": [
            _parameter(
                "Consistency-Token",
                "header",
                "The Consistency-Token of a write's answer (or several, comma-separated: the "
                "latest counts): the read then sees that write or a later state, on a replica "
                "that has replayed it or else on the primary. Without it a read may be served by "
                "a replica up to REPLICA_MAX_LAG_MS behind. A token this service did not issue "
                "is refused (422); docs/scaling.md",
                _STRING,
            )
        ],
        "item filters": filters,
        "item pages": _page_params(default=ITEM_PAGE_SIZE, maximum=ITEM_PAGE_SIZE_MAX),
        "key pages": _page_params(default=KEY_PAGE_SIZE, maximum=KEY_PAGE_SIZE_MAX),
    }


# The response headers api/routes.py names.
_RESPONSE_HEADERS: dict[str, dict[str, Any]] = {
    "ETag": _HEADER,
    "Location": _HEADER,
    "Link": _HEADER,
    "Content-Range": {
        "description": "With Prefer: count=…, the page and the count as PostgREST writes them:"
        f" `0-49/1234` on a first page, `*/1234` on the next ones, `0-49/{ITEM_COUNT_CAP}+` past"
        " the cap",
        "schema": {"type": "string"},
    },
    "Preference-Applied": {
        "description": "The count preference applied: count=exact or count=estimated",
        "schema": {"type": "string", "enum": ["count=exact", "count=estimated"]},
    },
    "Vary": {
        "description": "The request headers the answer depends on: Prefer on a list, Accept on"
        " an export (and Origin)",
        "schema": {"type": "string"},
    },
    "Idempotency-Replayed": {
        "description": "true on the stored answer of an earlier request with the same "
        "Idempotency-Key, which may be stale; absent on a first answer",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Consistency-Token": {
        "description": "With read replicas (DATABASE_REPLICA_URLS) only: an opaque token of the "
        "database's state after this write; send it back in Consistency-Token on later reads "
        "to see this write (read-your-writes); docs/scaling.md",
        "schema": {"type": "string"},
    },
}
# Methods whose successful answers carry Consistency-Token (api/consistency.py).
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The one request body that is not a component schema in JSON.
_PASSWORD_GRANT = {
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
}


# An import's body: the export's formats.
_ITEM_LINES = {
    "required": True,
    "description": "What an export writes (docs/api.md, Import): NDJSON, one item a line (the"
    " id optional; owner_id, created_at and updated_at read and left), or CSV with the export's"
    " header; the completeness line optional, checked when given",
    "content": {
        "application/x-ndjson": {"schema": {"type": "string"}},
        "text/csv": {"schema": {"type": "string"}},
    },
}


def _operation(
    operation: Operation, refs: dict[str, Any], parameters: dict[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    described: dict[str, Any] = {
        "operationId": operation.operation_id,
        "tags": [operation.tag],
        "summary": operation.summary,
    }
    if operation.scopes is not None:
        described["security"] = _security(*operation.scopes)
    if operation.parameters:
        described["parameters"] = [p for name in operation.parameters for p in parameters[name]]
    if operation.body == "password grant":
        described["requestBody"] = _PASSWORD_GRANT
    elif operation.body == "item lines":
        described["requestBody"] = _ITEM_LINES
    elif operation.body is not None:
        described["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[operation.body]}},
        }
    responses: dict[str, Any] = {}
    for reply in operation.replies:
        headers = {name: _RESPONSE_HEADERS[name] for name in reply.headers}
        if reply.schema is not None:
            responses[reply.status] = _json(refs[reply.schema], reply.description, headers)
        elif reply.media:
            responses[reply.status] = {
                "description": reply.description,
                "content": {media: {"schema": {"type": "string"}} for media in reply.media},
                **({"headers": headers} if headers else {}),
            }
        else:
            responses[reply.status] = {"description": reply.description}
            if headers:
                responses[reply.status]["headers"] = headers
    described["responses"] = {
        **responses,
        **_errors(*operation.errors, **{f"s{s}": d for s, d in operation.described.items()}),
    }
    return described


def _paths(refs: dict[str, Any]) -> dict[str, Any]:
    """The operations of api/routes.py, under their paths in the table's order."""
    parameters = _parameters()
    paths: dict[str, Any] = {}
    for route in ROUTES:
        if route.operation is None:
            continue
        if route.path not in paths:
            paths[route.path] = {}
            if route.path in PATH_IDS:
                paths[route.path]["parameters"] = [_uuid(PATH_IDS[route.path])]
        operation = _operation(route.operation, refs, parameters)
        if route.method in _WRITE_METHODS:
            for status, response in operation["responses"].items():
                if status.startswith("2"):
                    headers = response.setdefault("headers", {})
                    headers["Consistency-Token"] = _RESPONSE_HEADERS["Consistency-Token"]
        paths[route.path][route.method.lower()] = operation
    return paths


def build_openapi() -> dict[str, Any]:
    refs, components = _schemas()
    components["ItemPatch"]["minProperties"] = 1  # the server refuses {}: nothing to change
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Items API",
            "version": "1.0.0",
            "description": "Items over PostgreSQL. Errors are RFC 9457 problem documents.",
        },
        "paths": _paths(refs),
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
