"""One source of configuration: a Settings struct read from the environment and `.env`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

import msgspec

PositiveInt = Annotated[int, msgspec.Meta(ge=1)]


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
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    access_log: bool = True
    server_timing: bool = False
    static_dir: str = str(Path(__file__).resolve().parent.parent / "static")
    secret_key: str = ""
    access_token_ttl_seconds: PositiveInt = 3600
    auth_cache_seconds: Annotated[int, msgspec.Meta(ge=0, le=300)] = 10
    login_max_failures: PositiveInt = 5
    login_window_seconds: PositiveInt = 300

    # Request budget, load shedding, readiness and start-up (README "Operations").
    # End to end, per request: the wait for a connection and every statement included.
    request_timeout_ms: PositiveInt = 5000
    # The longest wait for a pool connection; less when less of the request's budget is left.
    db_acquire_timeout_ms: PositiveInt = 1000
    # Requests one worker process works on at once; more are answered 503 before any work.
    max_concurrent_requests: PositiveInt = 512
    # How long `serve` waits for PostgreSQL to accept connections before it gives up.
    db_connect_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 30.0

    # Identity and edge limits: throttling, keys, header limits (README "Security").

    # HTTP semantics: CORS and Idempotency-Key (README "HTTP semantics").

    # Data and search (README "Search").

    # Operators: metrics, docs, logs (README "Operations").

    def __post_init__(self) -> None:
        if self.db_pool_min_size > self.db_pool_max_size:
            raise SettingsError(
                f"DB_POOL_MIN_SIZE ({self.db_pool_min_size}) must not exceed "
                f"DB_POOL_MAX_SIZE ({self.db_pool_max_size})"
            )
        if not self.database_url.startswith(("postgresql://", "postgres://")):
            raise SettingsError("DATABASE_URL must be a postgresql:// URL")
        # Checked here, not only in load_settings, so that no Settings however built can run
        # production on the development key that create_app falls back to.
        if self.environment != "development" and len(self.secret_key.encode()) < 32:
            raise SettingsError(
                f"SECRET_KEY must be set to at least 32 bytes outside development "
                f"(ENVIRONMENT={self.environment})"
            )
        if self.secret_key and len(self.secret_key.encode()) < 32:
            raise SettingsError("SECRET_KEY must be at least 32 bytes long")


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
