"""Shared fixtures: one migrated database per run, the app on it, and per-test clean tables."""

from __future__ import annotations

import contextlib
import io
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import msgspec
import psycopg
import pytest

from api import logs, migrate
from api.app import create_app
from api.auth import tokens
from api.auth.passwords import hash_password
from api.settings import Settings
from api.sqltools.usage import Recording
from queries import users
from tests import ROOT, TIERS
from tests.database import fresh_database, postgres_server
from tests.statement_log import StatementLog, unrecorded

PASSWORD = "correct horse battery staple"
# A fresh key each run: a key written here would be public (and Settings refuses known keys).
TEST_SECRET_KEY = secrets.token_urlsafe(32)
ALL_TABLES = (
    "items, item_tags, item_words, name_words, name_word_deletions, api_keys, users, "
    "login_throttle, idempotency_keys, item_counts"
)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    with fresh_database(server_url) as url:
        migrate.up(url)
        yield url


@pytest.fixture(scope="session")
def log_stream() -> io.BytesIO:
    """Everything the app logs during the run, as JSON lines."""
    stream = io.BytesIO()
    logs.configure("info", stream=stream)
    return stream


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        environment="test",
        secret_key=TEST_SECRET_KEY,
        database_url=database_url,
        db_pool_min_size=1,
        db_pool_max_size=5,
        max_body_bytes=64 * 1024,
        auth_cache_seconds=10,
        login_max_failures=5,
        server_timing=True,
        # The shared app never sweeps during the run: clean_tables' TRUNCATE blocks the event
        # loop, and would wait forever for a sweep of that same loop holding its lock.
        sweep_seconds=86400,
        # Tests race one user's requests against each other; tests/http/test_fair_share.py checks
        # PRINCIPAL_MAX_CONCURRENCY on an app of its own.
        principal_max_concurrency=1000,
    )


@pytest.fixture(scope="session")
def statement_log() -> StatementLog:
    """The statements each route of the shared app ran, since the last test's check."""
    return StatementLog()


@pytest.fixture(scope="session")
async def app(
    settings: Settings, log_stream: io.BytesIO, statement_log: StatementLog
) -> AsyncIterator[Any]:
    application = create_app(settings)
    statement_log.attach(application)
    await application.start()
    yield application
    await application.stop()


@pytest.fixture(autouse=True)
def routes_run_recorded_statements(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each statement a route of the shared app ran in this test is one sql/routes.json lists
    for it: a route that runs another has changed, or tests/record_routes.py misses a branch."""
    yield
    if "app" not in request.fixturenames:
        return
    log: StatementLog = request.getfixturevalue("statement_log")
    runs, log.runs = log.runs, {}
    problems = unrecorded(runs, Recording.read())
    assert not problems, "\n".join(problems)


# The address the test clients call from.
CLIENT_ADDRESS = ("203.0.113.7", 4321)


@contextlib.asynccontextmanager
async def own_app(
    settings: Settings, **changes: Any
) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """An app of the test's own (the test settings with `changes`) and a client of it; the app
    stops after the block."""
    application = create_app(msgspec.structs.replace(settings, **changes))
    await application.start()
    try:
        transport = httpx.ASGITransport(app=application, client=CLIENT_ADDRESS)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield application, http
    finally:
        await application.stop()


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=CLIENT_ADDRESS)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture(autouse=True)
def clean_tables(request: pytest.FixtureRequest) -> None:
    """Each test starts from empty tables, so tests own their data and run in any order."""
    if "app" not in request.fixturenames and "database_url" not in request.fixturenames:
        return
    url = request.getfixturevalue("database_url")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {ALL_TABLES}")
    if "app" in request.fixturenames:
        request.getfixturevalue("app").state.authenticator.forget_everything()


@pytest.fixture(scope="session")
async def password_hash() -> str:
    """Hashing is slow on purpose; every test user shares one hash of PASSWORD."""
    return await hash_password(PASSWORD)


@dataclass
class Account:
    id: UUID
    email: str
    scopes: list[str]
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


MakeUser = Callable[..., Awaitable[Account]]


@pytest.fixture
def make_user(app: Any, password_hash: str) -> MakeUser:
    counter = iter(range(1_000_000))

    async def make(
        email: str | None = None,
        scopes: tuple[str, ...] = ("items:read", "items:write", "keys:manage"),
    ) -> Account:
        address = email or f"user{next(counter)}@example.com"
        user = await users.create(app.state.pool, address, password_hash, sorted(scopes))
        token = tokens.issue(TEST_SECRET_KEY, user.id, user.scopes, 3600, 0)
        return Account(user.id, address, user.scopes, token)

    return make


@pytest.fixture
async def alice(make_user: MakeUser) -> Account:
    return await make_user("alice@example.com")


@pytest.fixture
async def bob(make_user: MakeUser) -> Account:
    return await make_user("bob@example.com")


@pytest.fixture
async def admin(make_user: MakeUser) -> Account:
    return await make_user("admin@example.com", scopes=("items:read", "items:write", "admin"))


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """Assert an RFC 9457 problem document with `status`, and return it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = msgspec.json.decode(response.content)
    assert body["status"] == status
    assert body["title"]
    assert body["type"].startswith("/problems/")
    return body


ClientAt = Callable[[str], httpx.AsyncClient]


@pytest.fixture
async def client_at(app: Any) -> AsyncIterator[ClientAt]:
    """Clients that call the app from a given client address (for per-address throttling)."""
    opened: list[httpx.AsyncClient] = []

    def make(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 4321))
        http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        opened.append(http)
        return http

    yield make
    for http in opened:
        await http.aclose()


def pytest_configure(config: pytest.Config) -> None:
    for tier, holds in TIERS.items():
        config.addinivalue_line("markers", f"{tier}: {holds}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its tier: the folder under tests/ that holds it."""
    for item in items:
        tier = item.path.relative_to(ROOT / "tests").parts[0]
        if tier not in TIERS:
            raise pytest.UsageError(f"{item.nodeid}: a test belongs in tests/<tier>, {list(TIERS)}")
        item.add_marker(tier)
