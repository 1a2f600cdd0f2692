"""One source of configuration: a Settings struct read from the environment and `.env`."""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
# An origin as browsers send it (RFC 6454 section 6.1): scheme, host and an optional port.
_ORIGIN = re.compile(
    r"^https?://[a-z0-9.-]+(?::[0-9]{1,5})?$|^https?://\[[0-9a-f:.]+\](?::[0-9]{1,5})?$"
)


class SettingsError(Exception):
    """A missing or invalid configuration value, with a message naming the variable."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Service configuration. Each field is read from the upper-cased environment variable."""

    environment: Literal["development", "production", "test"] = "development"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/items"
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 8000
    workers: PositiveInt = 1
    db_pool_min_size: Annotated[int, msgspec.Meta(ge=0)] = 2
    db_pool_max_size: PositiveInt = 10
    db_statement_timeout_ms: PositiveInt = 5000
    # 0 disables asyncpg's prepared-statement cache (for PgBouncer before 1.21 in transaction mode).
    db_statement_cache_size: Annotated[int, msgspec.Meta(ge=0)] = 100
    # false behind a pooler that refuses unknown startup parameters (PgBouncer): then set
    # statement_timeout and the others on the database role instead.
    db_session_parameters: bool = True
    max_body_bytes: PositiveInt = 2 * 1024 * 1024
    # The largest body of POST /api/v1/items/import (docs/api.md, "Import"): read as it arrives.
    import_max_bytes: PositiveInt = 256 * 1024 * 1024
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    access_log: bool = True
    server_timing: bool = False
    static_dir: str = str(Path(__file__).resolve().parent.parent / "static")
    secret_key: str = ""
    access_token_ttl_seconds: PositiveInt = 3600
    auth_cache_seconds: Annotated[int, msgspec.Meta(ge=0, le=300)] = 10
    login_max_failures: PositiveInt = 5
    login_window_seconds: PositiveInt = 300

    # Request budget, load shedding, readiness and start-up (docs/operations.md).
    # End to end, per request: the wait for a connection and every statement included.
    request_timeout_ms: PositiveInt = 5000
    # The longest wait for a pool connection; less when less of the request's budget is left.
    db_acquire_timeout_ms: PositiveInt = 1000
    # Requests one worker process works on at once; more are answered 503 before any work.
    max_concurrent_requests: PositiveInt = 512
    # Requests of one user (all their tokens and keys) one worker process works on at once;
    # more are answered 429 before they take a database connection (api/fairshare.py).
    principal_max_concurrency: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 4
    # GET and HEAD /api/v1/items/{id} of concurrent requests share one statement per round trip
    # (queries/coalesce.py): at most COALESCE_MAX_BATCH ids in one, run by COALESCE_RUNNERS tasks
    # each holding one pool connection while it runs.
    coalesce_reads: bool = True
    coalesce_max_batch: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 128
    coalesce_runners: Annotated[int, msgspec.Meta(ge=1, le=16)] = 1
    # Read replicas (docs/scaling.md, "Read replicas"): comma-separated postgresql:// URLs of
    # streaming standbys of DATABASE_URL; empty (the default): every statement on the primary.
    database_replica_urls: str = ""
    # A replica whose state is older than this leaves the rotation: no read without a
    # Consistency-Token is staler.
    replica_max_lag_ms: Annotated[int, msgspec.Meta(ge=10, le=60_000)] = 1000
    # How long a read with a Consistency-Token waits for a replica to replay past it before it
    # reads the primary.
    replica_wait_ms: Annotated[int, msgspec.Meta(ge=0, le=5000)] = 50
    # How long `serve` waits for PostgreSQL to accept connections before it gives up.
    db_connect_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 30.0

    # Identity and edge limits: throttling, keys, header limits (docs/security.md).
    # Failed logins one client address may make per LOGIN_WINDOW_SECONDS, over all accounts.
    login_max_failures_per_address: PositiveInt = 100
    # Peers whose X-Forwarded-For / X-Forwarded-Proto are believed: comma-separated addresses or
    # networks, or "*". Empty (the default) believes no one: the client is the TCP peer.
    forwarded_allow_ips: str = ""
    # The longest lifetime of an API key, from its creation; also the default expiry.
    api_key_max_ttl_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 365
    # The most API keys that still work (not revoked, not expired) one user may have.
    api_keys_max_per_user: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 100
    # A request's line and header fields: at most this many bytes and fields (431 above), and
    # complete within this many seconds of its first byte (or of the connection) or closed.
    max_header_bytes: Annotated[int, msgspec.Meta(ge=1024, le=1024 * 1024)] = 16 * 1024
    max_header_fields: Annotated[int, msgspec.Meta(ge=10, le=1000)] = 100
    header_read_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 30.0
    # A connection whose client takes none of the answer bytes waiting for it this long is
    # closed, and what it held is freed.
    send_timeout_s: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 30.0
    # A list or search page ends before the item that would take its body past this many bytes
    # (its Link then points to the rest); an item is always answered whole.
    max_response_bytes: Annotated[int, msgspec.Meta(ge=64 * 1024)] = 8 * 1024 * 1024

    # HTTP semantics: CORS and Idempotency-Key (docs/api.md).
    # Comma-separated origins (scheme://host[:port]) that browsers may call the API from, or *;
    # empty: no CORS headers at all.
    cors_allow_origins: str = ""
    # How long a browser may cache a preflight's answer (Access-Control-Max-Age).
    cors_max_age_seconds: Annotated[int, msgspec.Meta(ge=0, le=86400)] = 600
    # How long an Idempotency-Key and its stored response are kept.
    idempotency_ttl_seconds: PositiveInt = 86400

    # Data and search (docs/api.md#search).
    # The most items one user may own; a write that would create one more is refused with 403.
    items_max_per_user: Annotated[int, msgspec.Meta(ge=1)] = 100_000

    # Operators: metrics, docs, logs, upkeep (docs/operations.md).
    # How often each process deletes expired rows: Idempotency-Key records past their TTL and
    # login counters whose window has ended (api/sweeper.py).
    sweep_seconds: Annotated[float, msgspec.Meta(gt=0, le=86400)] = 60.0
    # GET /metrics in the Prometheus text format, and the counting behind it.
    metrics_enabled: bool = True

    def __post_init__(self) -> None:
        self._check_secret_key()
        if self.db_pool_min_size > self.db_pool_max_size:
            raise SettingsError(
                f"DB_POOL_MIN_SIZE ({self.db_pool_min_size}) must not exceed "
                f"DB_POOL_MAX_SIZE ({self.db_pool_max_size})"
            )
        if not self.database_url.startswith(("postgresql://", "postgres://")):
            raise SettingsError("DATABASE_URL must be a postgresql:// URL")
        for url in self.replica_urls:
            if not url.startswith(("postgresql://", "postgres://")):
                raise SettingsError(
                    "DATABASE_REPLICA_URLS must list postgresql:// URLs, comma-separated"
                )
        for entry in self.forwarded_allow_ips.split(","):
            if entry.strip() not in ("", "*") and not _is_ip_or_network(entry.strip()):
                raise SettingsError(
                    "FORWARDED_ALLOW_IPS must list IP addresses or networks (or be *),"
                    f" got {entry.strip()[:64]!r}"
                )
        for origin in self.cors_origins:
            if origin != "*" and not _ORIGIN.match(origin):
                raise SettingsError(
                    f"CORS_ALLOW_ORIGINS: {origin!r} is not an origin such as "
                    "https://app.example.com or http://localhost:3000 (no path, no trailing /)"
                )

    @property
    def replica_urls(self) -> tuple[str, ...]:
        """DATABASE_REPLICA_URLS as a tuple; () without replicas."""
        return tuple(part.strip() for part in self.database_replica_urls.split(",") if part.strip())

    @property
    def cors_origins(self) -> tuple[str, ...]:
        """CORS_ALLOW_ORIGINS as a tuple of lower-cased origins; () when CORS is off."""
        return tuple(
            part.strip().lower() for part in self.cors_allow_origins.split(",") if part.strip()
        )

    def _check_secret_key(self) -> None:
        """Checked here, not only in load_settings, so that no Settings however built can sign
        with a guessable key. Development without a key signs with a random one per process."""
        if not self.secret_key:
            if self.environment != "development":
                raise SettingsError(
                    f"SECRET_KEY must be set outside development (ENVIRONMENT={self.environment});"
                    f" make one with: {SECRET_KEY_RECIPE}"
                )
            return
        problem = secret_key_problem(self.secret_key)
        if problem is not None:
            raise SettingsError(f"SECRET_KEY {problem}; make one with: {SECRET_KEY_RECIPE}")


SECRET_KEY_RECIPE = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"  # noqa: S105
MIN_SECRET_KEY_BYTES = 32
_MIN_DISTINCT_CHARACTERS = 8
# Keys that are or were printed in this repository (code, README, docker-compose, tests,
# benchmarks) and anyone can read: a token signed with one of them would be forged by anyone.
KNOWN_SECRET_KEYS = frozenset(
    {
        "development-only-secret-key-change-me-0123456789",
        "change-me-change-me-change-me-change-me-0123",
        "test-only-secret-key-0123456789abcdef-0123456789",
        "benchmark-secret-key-not-for-production-0123456789",
    }
)
# Placeholders that say "replace me": a key containing one was copied from an example.
_PLACEHOLDERS = (
    "change-me",
    "changeme",
    "change_me",
    "replace-me",
    "not-for-production",
    "example",
)


def secret_key_problem(key: str) -> str | None:
    """Why `key` must not sign tokens (too short, publicly known, a placeholder, too uniform),
    or None when it may. The message never repeats the key."""
    if len(key.encode()) < MIN_SECRET_KEY_BYTES:
        return f"must be at least {MIN_SECRET_KEY_BYTES} bytes long"
    lowered = key.lower()
    if key in KNOWN_SECRET_KEYS or any(word in lowered for word in _PLACEHOLDERS):
        return "is a publicly known example value"
    if len(set(key)) < _MIN_DISTINCT_CHARACTERS:
        return f"has fewer than {_MIN_DISTINCT_CHARACTERS} distinct characters"
    return None


def _is_ip_or_network(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse KEY=VALUE lines of a `.env` file; blank lines and `#` comments are ignored."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        if not sep:
            raise SettingsError(f"{path}:{number}: expected KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def default(name: str) -> Any:
    """The default value of the setting `name` (a field of Settings)."""
    return next(field.default for field in msgspec.structs.fields(Settings) if field.name == name)


def load_settings(
    environ: dict[str, str] | None = None, dotenv: Path | None = Path(".env")
) -> Settings:
    """Build Settings from `.env` overlaid by the environment; raise SettingsError when invalid."""
    source = read_dotenv(dotenv) if dotenv is not None else {}
    source.update(os.environ if environ is None else environ)
    fields = {f.name: f.name.upper() for f in msgspec.structs.fields(Settings)}
    raw = {name: source[var] for name, var in fields.items() if var in source}
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(_name_variable(str(exc), fields)) from None
    return settings


def _name_variable(message: str, fields: dict[str, str]) -> str:
    """Turn msgspec's `... - at `$.port`` into a message that names PORT."""
    text, _, where = message.rpartition(" - at `$.")
    if not text:
        return message
    name = where.rstrip("`")
    return f"{fields.get(name, name)}: {text}"
