"""Every route of the service in one table: api/app.py registers it at start-up, api/openapi.py
describes its operations, `python -m api sql catalog` names its routes, docs/api.md lists them
(tests/http/test_route_table.py holds the four together)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from blacksheep.server.routing import Router

from api.contracts.items import EXPORT_FORMATS, MAX_BATCH
from api.docs import INIT_SCRIPT_PATH, SWAGGER_UI_FILES
from api.handlers.identity import IdentityHandlers
from api.handlers.items import ItemHandlers
from api.handlers.site import SiteHandlers
from api.handlers.static import StaticFiles
from api.metrics import Publisher

Handler = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Reply:
    """A success response: `schema` names a component schema of api/openapi.py (None: no
    body), `headers` response headers it defines (ETag, Location, Link, Idempotency-Replayed),
    `media` the media types of a body that is not JSON."""

    status: str
    description: str
    schema: str | None = None
    headers: tuple[str, ...] = ()
    media: tuple[str, ...] = ()  # media types of a body that is not JSON (a text stream)


@dataclass(frozen=True)
class Operation:
    """What the OpenAPI document says of a route. `errors` are the error statuses it may answer
    besides the protocol's (with api/openapi.py's description of each), `described` those whose
    description is this operation's own. `scopes` None: no credential; (): any credential.
    `parameters` and `body` name what api/openapi.py defines."""

    operation_id: str
    tag: str
    summary: str
    replies: tuple[Reply, ...]
    errors: tuple[str, ...] = ()
    described: Mapping[str, str] = field(default_factory=dict)
    scopes: tuple[str, ...] | None = None
    parameters: tuple[str, ...] = ()
    body: str | None = None


@dataclass(frozen=True)
class Route:
    """`handler` is a method of a handler class, called on the instance register() is given;
    GET routes answer HEAD too. A route with `setting` is registered only when that setting
    enables it (register() is then given its handler's instance)."""

    method: str
    path: str
    handler: Handler
    operation: Operation | None = None
    setting: str | None = None
    # A read that a replica may serve, boundedly stale, or past the Consistency-Token it is sent
    # (api/consistency.py); every other statement runs on the primary.
    replica_reads: bool = False

    @property
    def label(self) -> str:
        """ "GET /api/v1/items/{id}": how the SQL catalog and docs/api.md name the route."""
        return f"{self.method} {self.path}"


# The description of each path's `{id}`.
PATH_IDS = {
    "/api/v1/items/{id}": "The item's id, in its canonical 8-4-4-4-12 form",
    "/api/v1/users/{id}": "The user's id",
    "/api/v1/api-keys/{id}": "The key's id",
}

_ITEM_ERRORS = ("401", "403", "404", "422", "503")
_WRITE_ERRORS = (*_ITEM_ERRORS, "412", "413", "415")
_CREATES = {
    "403": (
        "The credential lacks the scope, the item belongs to another user, or the user owns"
        " ITEMS_MAX_PER_USER items already and the write would create one"
        " (/problems/item-quota)"
    )
}
_KEYED = {
    **_CREATES,
    "409": "A request with this Idempotency-Key is still running",
    "422": "Invalid input, or an Idempotency-Key used for another request",
}
_WRITES_ITEM = ("If-Match", "If-None-Match")


def _item(status: str, description: str, *headers: str) -> Reply:
    return Reply(status, description, "Item", ("ETag", *headers))


ROUTES: tuple[Route, ...] = (
    Route(
        "POST",
        "/api/v1/items",
        ItemHandlers.create,
        Operation(
            "createItem",
            "items",
            "Create an item",
            (
                _item(
                    "201",
                    "Created; Location names the new item",
                    "Location",
                    "Idempotency-Replayed",
                ),
            ),
            ("401", "403", "413", "415", "503"),
            _KEYED,
            scopes=("items:write",),
            parameters=("Idempotency-Key",),
            body="ItemWrite",
        ),
    ),
    Route(
        "GET",
        "/api/v1/items",
        ItemHandlers.list,
        Operation(
            "listItems",
            "items",
            "List and search items, with keyset pagination",
            (
                Reply(
                    "200",
                    "One page (with fields, those fields of each item alone); a Link header"
                    " with rel=next while more rows exist; with Prefer: count=…, the count in"
                    " Content-Range and Preference-Applied (neither when it does not fit the"
                    " request's budget)",
                    "ItemList",
                    ("Link", "Content-Range", "Preference-Applied", "Vary"),
                ),
            ),
            ("401", "403", "422", "503"),
            scopes=("items:read",),
            parameters=(
                "item filters",
                "item sort",
                "item pages",
                "fields",
                "Prefer count",
                "Consistency-Token",
            ),
        ),
        replica_reads=True,
    ),
    Route(
        "GET",
        "/api/v1/items/export",
        ItemHandlers.export,
        Operation(
            "exportItems",
            "items",
            "Every item a list would show, in its order, streamed from one snapshot",
            (
                Reply(
                    "200",
                    "One item per line (NDJSON: the item's JSON; CSV: a header row, then RFC 4180"
                    " records, tags and metadata as JSON text), then the completeness line:"
                    ' {"export":"complete","count":N} or #export,complete,N,,,,,. An answer'
                    " without it was cut short (a stall past REQUEST_TIMEOUT_MS)",
                    headers=("Vary",),
                    media=tuple(media for media, _ in EXPORT_FORMATS.values()),
                ),
            ),
            ("401", "403", "406", "422", "503"),
            {
                "429": "This user has EXPORTS_PER_PRINCIPAL exports in progress already"
                " (/problems/too-many-exports), or PRINCIPAL_MAX_CONCURRENCY requests",
                "503": "This worker runs EXPORTS_PER_WORKER exports already"
                " (/problems/exports-busy), or the database is unavailable or out of time",
            },
            scopes=("items:read",),
            parameters=("item filters", "item sort", "export format"),
        ),
    ),
    Route(
        "POST",
        "/api/v1/items/import",
        ItemHandlers.import_items,
        Operation(
            "importItems",
            "items",
            "Create or replace the items of an export (NDJSON or CSV), all or nothing",
            (
                Reply(
                    "200",
                    "How many items were created, replaced, and left as they were",
                    "ImportResult",
                    ("Idempotency-Replayed",),
                ),
            ),
            ("401", "403", "413", "415", "503"),
            {
                **_KEYED,
                "403": "The credential lacks the scope, some lines name items of another user"
                " (`refused`: their lines and ids; /problems/not-owner), or the user would own"
                " more than ITEMS_MAX_PER_USER items (/problems/item-quota)",
                "422": "Bad lines (up to the first 100, each at lines[n]), ids repeated, or an"
                " Idempotency-Key used for another request; nothing was imported",
                "429": "This user has IMPORTS_PER_PRINCIPAL imports in progress already"
                " (/problems/too-many-imports), or PRINCIPAL_MAX_CONCURRENCY requests",
                "503": "This worker runs IMPORTS_PER_WORKER imports already"
                " (/problems/imports-busy), or the database is unavailable or out of time",
            },
            scopes=("items:write",),
            parameters=("Idempotency-Key",),
            body="item lines",
        ),
    ),
    Route(
        "POST",
        "/api/v1/items/batch",
        ItemHandlers.batch,
        Operation(
            "upsertItems",
            "items",
            f"Create or replace up to {MAX_BATCH} items at once, all or nothing",
            (
                Reply(
                    "200",
                    "Each item's id and whether it was created",
                    "BatchResult",
                    ("Idempotency-Replayed",),
                ),
            ),
            ("401", "403", "413", "415", "503"),
            _KEYED,
            scopes=("items:write",),
            parameters=("Idempotency-Key",),
            body="BatchBody",
        ),
    ),
    Route(
        "GET",
        "/api/v1/items/{id}",
        ItemHandlers.get,
        Operation(
            "getItem",
            "items",
            "Read an item",
            (
                Reply("200", "The item; with fields, those fields alone", "ItemRead", ("ETag",)),
                Reply("304", "Not modified", headers=("ETag",)),
            ),
            (*_ITEM_ERRORS, "412"),
            scopes=("items:read",),
            parameters=(
                "If-Match (read)",
                "If-None-Match (read)",
                "fields",
                "Consistency-Token",
            ),
        ),
        replica_reads=True,
    ),
    Route(
        "PUT",
        "/api/v1/items/{id}",
        ItemHandlers.put,
        Operation(
            "putItem",
            "items",
            "Create or replace the item with this id (upsert)",
            (_item("200", "Replaced"), _item("201", "Created", "Location")),
            _WRITE_ERRORS,
            _CREATES,
            scopes=("items:write",),
            parameters=_WRITES_ITEM,
            body="ItemWrite",
        ),
    ),
    Route(
        "PATCH",
        "/api/v1/items/{id}",
        ItemHandlers.patch,
        Operation(
            "patchItem",
            "items",
            "Change some fields of an item",
            (_item("200", "Updated"),),
            _WRITE_ERRORS,
            scopes=("items:write",),
            parameters=_WRITES_ITEM,
            body="ItemPatch",
        ),
    ),
    Route(
        "DELETE",
        "/api/v1/items/{id}",
        ItemHandlers.delete,
        Operation(
            "deleteItem",
            "items",
            "Delete an item",
            (Reply("204", "Deleted"),),
            (*_ITEM_ERRORS, "412"),
            scopes=("items:write",),
            parameters=_WRITES_ITEM,
        ),
    ),
    Route(
        "POST",
        "/api/v1/auth/token",
        IdentityHandlers.token,
        Operation(
            "issueToken",
            "auth",
            "OAuth2 password grant: exchange email and password for an access token",
            (Reply("200", "An access token", "TokenResponse"),),
            ("503",),
            {
                "400": "OAuth2 error: invalid_grant, invalid_request, invalid_scope, ...",
                "413": "Body too large",
                "415": "Body is not application/x-www-form-urlencoded",
                "429": "Too many failed logins; see Retry-After",
            },
            body="password grant",
        ),
    ),
    Route(
        "GET",
        "/api/v1/users/me",
        IdentityHandlers.me,
        Operation(
            "getCurrentUser",
            "users",
            "The calling user",
            (Reply("200", "The user", "User"),),
            ("401", "404", "503"),
            scopes=(),
        ),
    ),
    Route(
        "GET",
        "/api/v1/users/{id}",
        IdentityHandlers.get_user,
        Operation(
            "getUser",
            "users",
            "A user: the caller themself, or anyone to an admin",
            (Reply("200", "The user", "User"),),
            ("401", "403", "404", "422", "503"),
            scopes=(),
        ),
    ),
    Route(
        "POST",
        "/api/v1/users",
        IdentityHandlers.create_user,
        Operation(
            "createUser",
            "users",
            "Create a user (admin)",
            (Reply("201", "Created", "User", ("Location",)),),
            ("401", "403", "413", "415", "422", "503"),
            {"409": "Email taken"},
            scopes=("admin",),
            body="NewUser",
        ),
    ),
    Route(
        "POST",
        "/api/v1/api-keys",
        IdentityHandlers.create_api_key,
        Operation(
            "createApiKey",
            "api-keys",
            "Create an API key; its secret is shown only in this response",
            (Reply("201", "Created", "CreatedApiKey"),),
            ("401", "413", "415", "422", "503"),
            {
                "403": (
                    "The credential lacks keys:manage, the key would have scopes or a"
                    " lifetime beyond its creator's, or the user already has"
                    " API_KEYS_MAX_PER_USER keys that still work (type"
                    " /problems/api-key-limit: revoking one frees a place)"
                )
            },
            scopes=("keys:manage",),
            body="NewApiKey",
        ),
    ),
    Route(
        "GET",
        "/api/v1/api-keys",
        IdentityHandlers.list_api_keys,
        Operation(
            "listApiKeys",
            "api-keys",
            (
                "The API keys the caller may manage, without secrets, newest first, with"
                " keyset pagination: with a user's token all the user's keys; with an API"
                " key that key and the keys created with it"
            ),
            (
                Reply(
                    "200",
                    "One page; a Link header with rel=next while more keys exist",
                    "ApiKeyList",
                    ("Link",),
                ),
            ),
            ("401", "403", "422", "503"),
            scopes=("keys:manage",),
            parameters=("key pages",),
        ),
    ),
    Route(
        "DELETE",
        "/api/v1/api-keys/{id}",
        IdentityHandlers.revoke_api_key,
        Operation(
            "revokeApiKey",
            "api-keys",
            (
                "Revoke an API key and every key created with it, at once: with a user's"
                " token any key of the user; with an API key that key or one created with it"
            ),
            (Reply("204", "Revoked"),),
            ("401", "403", "422", "503"),
            {"404": "No such key the caller may revoke"},
            scopes=("keys:manage",),
        ),
    ),
    Route(
        "GET",
        "/healthz",
        SiteHandlers.healthz,
        Operation("getHealth", "ops", "The process is alive", (Reply("200", "Alive"),)),
    ),
    Route(
        "GET",
        "/readyz",
        SiteHandlers.readyz,
        Operation(
            "getReadiness",
            "ops",
            "The database is reachable",
            (Reply("200", "Ready"),),
            described={"503": "PostgreSQL unreachable from this instance, or shutting down"},
        ),
    ),
    # Not operations of the API: the documents about it, and the site.
    Route("GET", "/openapi.json", SiteHandlers.openapi_json),
    Route("GET", "/docs", SiteHandlers.docs_page),
    *(
        Route("GET", path, SiteHandlers.docs_asset)
        for path in (INIT_SCRIPT_PATH, *SWAGGER_UI_FILES)
    ),
    Route("GET", "/", SiteHandlers.home),
    Route("GET", "/static/*", StaticFiles.get),
    Route("GET", "/metrics", Publisher.handler, setting="METRICS_ENABLED"),
)


def register(
    router: Router,
    *owners: object,
    wrap: Callable[[Route, Handler], Handler] | None = None,
) -> None:
    """Add every route of ROUTES to `router`, each handler bound to the instance of its class
    among `owners`; a route with a setting is left out when its class is not among them.
    `wrap(route, handler)`, when given, is what each route's bound handler is wrapped in (the
    Consistency-Token with replicas: api/consistency.py)."""
    by_class = {type(owner).__qualname__: owner for owner in owners}
    for route in ROUTES:
        owner = by_class.get(route.handler.__qualname__.rpartition(".")[0])
        if owner is None:
            if route.setting is not None:
                continue
            raise ValueError(f"no instance for {route.label}'s {route.handler.__qualname__}")
        handler = _bound(route.handler, owner)
        if wrap is not None:
            handler = wrap(route, handler)
            # Annotations evaluated, as _bound's: see there.
            handler.__signature__ = inspect.signature(handler, eval_str=True)  # type: ignore[attr-defined]
        router.add(route.method, route.path, handler)
        if route.method == "GET":  # HEAD runs the GET handler; the middleware drops the body
            router.add("HEAD", route.path, handler)


def _bound(handler: Handler, owner: object) -> Handler:
    """`handler` bound to `owner`, as BlackSheep calls it: with the request alone.

    A partial, not a bound method: BlackSheep marks each handler with an attribute, which a
    bound method cannot take. Its signature carries its annotations evaluated: the handlers'
    modules keep them as strings (`from __future__ import annotations`), and BlackSheep, seeing
    a return type that is not Response itself, wrapped every handler in two more coroutines per
    request to turn its result into a Response (blacksheep.server.normalization; the cost is in
    benchmarks/README.md, "Why the code is as it is").
    """
    bound = partial(handler, owner)
    bound.__signature__ = inspect.signature(bound, eval_str=True)  # type: ignore[attr-defined]
    return bound
