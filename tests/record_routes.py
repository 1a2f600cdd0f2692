"""Drive every route of api/routes.py, and the periodic sweep, through each branch that runs a
statement of its own, and record which statements ran: sql/routes.json, which
`python -m api sql catalog` reads.

    python -m tests.record_routes      # rewrites sql/routes.json (needs PostgreSQL, as the tests)

tests/http/test_route_table.py records again and compares; every other test checks that the routes
it drives run no statement the recording lacks (tests/conftest.py), so a branch missing here
shows there.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import uuid4

import httpx
import msgspec

from api import export, migrate
from api.app import create_app
from api.auth import tokens
from api.auth.passwords import hash_password
from api.routes import ROUTES
from api.settings import Settings
from api.sqltools.usage import RECORDING, SWEEP, Recording
from queries import items, users
from tests.database import fresh_database, postgres_server
from tests.statement_log import StatementLog

PASSWORD = "correct horse battery staple"
ITEMS = "/api/v1/items"
Call = Callable[..., Awaitable[httpx.Response]]


async def record(settings: Settings) -> Recording:
    """The statements each route and the sweep run, on the migrated, empty database of
    `settings` (which must have a secret key)."""
    log = StatementLog()
    settings = msgspec.structs.replace(
        settings, login_max_failures_per_address=1, metrics_enabled=True, sweep_seconds=86400
    )
    for drive, coalesce_reads in ((_drive, True), (_drive_reads_of_their_own, False)):
        app = create_app(msgspec.structs.replace(settings, coalesce_reads=coalesce_reads))
        log.attach(app)
        await app.start()
        try:
            transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 4321))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                await drive(app, http, settings.secret_key)
            if coalesce_reads:
                await log.run_as(SWEEP, app.state.sweeper.sweep())
        finally:
            await app.stop()
    runs = log.runs
    return Recording(
        {route.label: sorted(runs.get(route.label, ())) for route in ROUTES},
        sorted(runs.get(SWEEP, ())),
    )


async def _drive(app: Any, http: httpx.AsyncClient, secret_key: str) -> None:
    pool = app.state.pool
    password_hash = await hash_password(PASSWORD)
    scopes = ["items:read", "items:write", "keys:manage"]
    member = await users.create(pool, "member@example.com", password_hash, scopes)
    admin = await users.create(pool, "admin@example.com", password_hash, [*scopes, "admin"])
    bearer = {
        user.id: {
            "Authorization": f"Bearer {tokens.issue(secret_key, user.id, user.scopes, 600, 0)}"
        }
        for user in (member, admin)
    }

    async def as_both(method: str, path: str, user: Any = member, **kwargs: Any) -> None:
        """The request with the user's token, then with an API key of theirs, each checked
        afresh (no cached credential, the key's last use long ago)."""
        extra = kwargs.pop("headers", {})
        for credential in (bearer[user.id], keys[user.id]):
            app.state.authenticator.forget_everything()
            await pool.execute("UPDATE api_keys SET last_used_at = NULL")
            await http.request(method, path, headers={**extra, **credential}, **kwargs)

    keys: dict[Any, dict[str, str]] = {}
    for user in (member, admin):
        created = await http.post("/api/v1/api-keys", json={"name": "k"}, headers=bearer[user.id])
        keys[user.id] = {"X-API-Key": created.json()["key"]}
    await as_both("POST", "/api/v1/api-keys", json={"name": "child"})

    # Items: each branch of create, read, write, delete and list.
    await as_both("POST", ITEMS, json={"name": "plain"})
    for key in ("first", "first"):  # the second answers the stored response
        await as_both("POST", ITEMS, json={"name": "keyed"}, headers={"Idempotency-Key": key})
    item = await http.post(ITEMS, json={"name": "espresso machine"}, headers=bearer[member.id])
    item_path = f"{ITEMS}/{item.json()['id']}"
    await as_both("GET", item_path)
    batch = [{"id": str(uuid4()), "name": "batch"}]
    await as_both("POST", f"{ITEMS}/batch", json=batch)
    await as_both("POST", f"{ITEMS}/batch", json=batch, headers={"Idempotency-Key": "batch"})
    selections: tuple[dict[str, str], ...] = (
        {},
        {"tags": "a"},
        {"tags_all": "a"},
        {"metadata": '{"k": 1}'},
        {"q": "espresso"},
        {"q": "espresso machine"},
        *({"sort": sort} for sort in items.SORTS[1:]),
        {"q": "espresso", "sort": "name,-created_at"},
    )
    for query in selections:
        await as_both("GET", ITEMS, params=query)
    # Exports run the list's statements, one item a chunk here: the next chunks' too.
    chunk_items, export.EXPORT_CHUNK_ITEMS = export.EXPORT_CHUNK_ITEMS, 1
    try:
        for query in selections:
            await as_both("GET", f"{ITEMS}/export", params=query)
    finally:
        export.EXPORT_CHUNK_ITEMS = chunk_items
    # Imports: created (with a key, and the quota's count), an export of others' items
    # (refused), an id twice (the duplicates).
    ndjson = {"Content-Type": "application/x-ndjson"}
    await as_both("POST", f"{ITEMS}/import", content=b'{"name":"imported"}\n', headers=ndjson)
    await as_both(
        "POST",
        f"{ITEMS}/import",
        content=b'{"name":"keyed import"}\n',
        headers={**ndjson, "Idempotency-Key": "import"},
    )
    everything = await http.get(f"{ITEMS}/export", headers=bearer[admin.id])
    await as_both("POST", f"{ITEMS}/import", content=everything.content, headers=ndjson)
    twice = b'{"id":"11111111-1111-4111-8111-111111111111","name":"twice"}\n' * 2
    await as_both("POST", f"{ITEMS}/import", content=twice, headers=ndjson)
    # The next page of -name (its first page has a statement of its own).
    by_name = await http.get(ITEMS, params={"sort": "-name", "limit": 1}, headers=bearer[member.id])
    await as_both("GET", by_name.links["next"]["url"])
    # Counts of each filter family (the sort changes none): exact, and the planner's estimate,
    # which needs the statistics of an ANALYZE.
    await pool.execute("ANALYZE items")
    counted = (*selections[:6], {"created_after": "2000-01-01T00:00:00Z"})
    for preference in ("count=exact", "count=estimated"):
        for query in counted:
            await as_both("GET", ITEMS, params=query, headers={"Prefer": preference})
    await as_both("GET", f"{ITEMS}/{item.json()['id']}", params={"fields": "id,name"})
    for preconditions in ({}, {"If-None-Match": "*"}, {"If-None-Match": '"x"'}):
        await as_both("PUT", f"{ITEMS}/{uuid4()}", json={"name": "put"}, headers=preconditions)
    etag = (await http.get(item_path, headers=bearer[member.id])).headers["etag"]
    await as_both("PUT", item_path, json={"name": "put"}, headers={"If-Match": etag})
    await as_both("PUT", item_path, json={"name": "put"}, headers={"If-Match": '"stale"'})
    await as_both("PATCH", item_path, json={"name": "patched"})
    await as_both("PATCH", item_path, json={"name": "patched"}, headers={"If-None-Match": '"x"'})
    await as_both("DELETE", item_path, headers={"If-None-Match": '"x"'})
    for _ in range(2):
        created = await http.post(ITEMS, json={"name": "doomed"}, headers=bearer[member.id])
        await as_both("DELETE", f"{ITEMS}/{created.json()['id']}")

    # Users and API keys.
    await as_both("GET", "/api/v1/users/me")
    await as_both("GET", f"/api/v1/users/{member.id}")
    new_user = {"email": "new@example.com", "password": PASSWORD}  # the second time: taken
    await as_both("POST", "/api/v1/users", user=admin, json=new_user)
    await as_both("GET", "/api/v1/api-keys")
    doomed = [
        (await http.post("/api/v1/api-keys", json={"name": "d"}, headers=bearer[member.id])).json()
        for _ in range(2)
    ]
    await as_both("DELETE", f"/api/v1/api-keys/{doomed[0]['id']}")
    # A key revokes itself last: keys[member.id] is gone after this.
    keys[member.id] = {"X-API-Key": doomed[1]["key"]}
    await as_both("DELETE", f"/api/v1/api-keys/{doomed[1]['id']}")

    # Logins: a success, then failures from the same address until it is over its limit.
    for password in (PASSWORD, "wrong", "wrong"):
        form = {"grant_type": "password", "username": member.email, "password": password}
        await http.post("/api/v1/auth/token", data=form)

    # The rest reads no statement but the readiness probe's; every one is driven all the same.
    for route in ROUTES:
        anonymous = route.operation is None or route.operation.scopes is None
        if anonymous and route.method == "GET" and "{" not in route.path:
            await http.get(route.path.replace("*", "site.css"))


async def _drive_reads_of_their_own(app: Any, http: httpx.AsyncClient, secret_key: str) -> None:
    """GET /api/v1/items/{id} with COALESCE_READS=false, where it runs a statement of its own."""
    reader = await users.create(
        app.state.pool, "reader@example.com", await hash_password(PASSWORD), ["items:read"]
    )
    item = await items.create(app.state.pool, _ItemValues("read alone"), reader.id, 1)
    assert item is not None
    token = tokens.issue(secret_key, reader.id, reader.scopes, 600, 0)
    await http.get(f"{ITEMS}/{item.id}", headers={"Authorization": f"Bearer {token}"})


class _ItemValues(msgspec.Struct):
    name: str
    description: str | None = None
    tags: list[str] = []
    metadata: msgspec.Raw = msgspec.Raw(b"{}")


async def _main() -> None:
    with postgres_server() as server, fresh_database(server) as url:
        migrate.up(url)
        settings = Settings(
            environment="test",
            database_url=url,
            secret_key=secrets.token_urlsafe(32),
            log_level="warning",
        )
        recording = await record(settings)
    RECORDING.write_text(recording.text(), encoding="utf-8")
    print(f"wrote {RECORDING}")


if __name__ == "__main__":
    asyncio.run(_main())
