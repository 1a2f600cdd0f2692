"""Settings: read from `.env` and the environment, validated with messages naming the variable."""

from __future__ import annotations

import io
import secrets
from pathlib import Path

import pytest

from api.settings import Settings, SettingsError, load_settings

LONG_SECRET = secrets.token_urlsafe(32)


def load(**environ: str) -> Settings:
    return load_settings(environ, dotenv=None)


def test_defaults_need_nothing_in_development() -> None:
    settings = load()
    assert settings == Settings()
    assert settings.environment == "development"
    assert settings.secret_key == ""


def test_values_are_converted_from_strings() -> None:
    settings = load(
        PORT="9000",
        ACCESS_LOG="false",
        DB_POOL_MIN_SIZE="0",
        LOG_LEVEL="debug",
        ACCESS_TOKEN_TTL_SECONDS="60",
        SECRET_KEY=LONG_SECRET,
    )
    assert settings.port == 9000
    assert settings.access_log is False
    assert settings.db_pool_min_size == 0
    assert settings.log_level == "debug"
    assert settings.access_token_ttl_seconds == 60
    assert settings.secret_key == LONG_SECRET


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"PORT": "eighty"}, "PORT"),
        ({"PORT": "0"}, "PORT"),
        ({"PORT": "65536"}, "PORT"),
        ({"ENVIRONMENT": "staging"}, "ENVIRONMENT"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
        ({"WORKERS": "-1"}, "WORKERS"),
        ({"AUTH_CACHE_SECONDS": "301"}, "AUTH_CACHE_SECONDS"),
        ({"LOGIN_MAX_FAILURES": "0"}, "LOGIN_MAX_FAILURES"),
        ({"DB_POOL_MIN_SIZE": "11", "DB_POOL_MAX_SIZE": "10"}, "DB_POOL_MIN_SIZE"),
        ({"DATABASE_URL": "mysql://root@localhost/items"}, "DATABASE_URL"),
        ({"ENVIRONMENT": "production"}, "SECRET_KEY"),
        ({"ENVIRONMENT": "test"}, "SECRET_KEY"),
        ({"ENVIRONMENT": "production", "SECRET_KEY": "s" * 31}, "SECRET_KEY"),
        ({"SECRET_KEY": "too short"}, "SECRET_KEY"),
        ({"DATABASE_REPLICA_URLS": "postgresql://r1/items, mysql://r2/items"}, "REPLICA_URLS"),
        ({"REPLICA_MAX_LAG_MS": "9"}, "REPLICA_MAX_LAG_MS"),
        ({"REPLICA_MAX_LAG_MS": "60001"}, "REPLICA_MAX_LAG_MS"),
        ({"REPLICA_WAIT_MS": "-1"}, "REPLICA_WAIT_MS"),
        ({"REPLICA_WAIT_MS": "5001"}, "REPLICA_WAIT_MS"),
    ],
)
def test_a_bad_value_is_an_error_naming_its_variable(
    environ: dict[str, str], variable: str
) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings(environ, dotenv=None)


def test_pool_min_above_max_names_both() -> None:
    with pytest.raises(SettingsError) as raised:
        load(DB_POOL_MIN_SIZE="20", DB_POOL_MAX_SIZE="5")
    assert "DB_POOL_MIN_SIZE" in str(raised.value)
    assert "DB_POOL_MAX_SIZE" in str(raised.value)


def test_production_accepts_a_long_enough_secret_key() -> None:
    settings = load(ENVIRONMENT="production", SECRET_KEY=LONG_SECRET)
    assert settings.environment == "production"
    assert settings.secret_key == LONG_SECRET
    # Bytes count, not characters: 11 three-byte characters are 33 bytes.
    euros = "€₩₹₽₪₫₭₮₱₲₴"
    assert load(ENVIRONMENT="production", SECRET_KEY=euros).secret_key == euros


def test_settings_built_in_code_are_checked_too() -> None:
    """Production must never run without a key, however its Settings were made."""
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        Settings(environment="production")
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        Settings(secret_key="short")
    assert Settings(environment="production", secret_key=LONG_SECRET).secret_key == LONG_SECRET


def test_the_error_does_not_echo_the_secret() -> None:
    with pytest.raises(SettingsError) as raised:
        load(SECRET_KEY="my-short-secret")
    assert "my-short-secret" not in str(raised.value)


def test_dotenv_is_read(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# a comment\n"
        "\n"
        "PORT=8123\n"
        'DATABASE_URL="postgresql://app@db.internal:5432/items"\n'
        "export LOG_LEVEL='warning'\n"
        "UNRELATED=ignored\n",
        encoding="utf-8",
    )
    settings = load_settings({}, dotenv=dotenv)
    assert settings.port == 8123
    assert settings.database_url == "postgresql://app@db.internal:5432/items"
    assert settings.log_level == "warning"


def test_the_environment_overrides_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("PORT=8123\nWORKERS=4\n", encoding="utf-8")
    settings = load_settings({"PORT": "9999"}, dotenv=dotenv)
    assert settings.port == 9999
    assert settings.workers == 4  # what the environment does not set still comes from .env


def test_a_bad_value_in_dotenv_names_the_variable(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("PORT=not-a-port\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="PORT"):
        load_settings({}, dotenv=dotenv)


def test_a_malformed_dotenv_line_names_file_and_line(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("PORT=8000\nthis line has no equals sign\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"\.env:2"):
        load_settings({}, dotenv=dotenv)


def test_a_missing_dotenv_is_fine(tmp_path: Path) -> None:
    assert load_settings({"PORT": "8001"}, dotenv=tmp_path / "absent.env").port == 8001


def test_the_process_environment_is_read_when_none_is_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PORT", "8765")
    monkeypatch.setenv("ENVIRONMENT", "development")
    assert load_settings(dotenv=tmp_path / "absent.env").port == 8765


KNOWN_KEYS = [
    # The fallback the service used to sign with in development, in the repository.
    "development-only-secret-key-change-me-0123456789",
    # docker-compose.yml's default.
    "change-me-change-me-change-me-change-me-0123",
    # The benchmark runner's and the tests' former keys.
    "benchmark-secret-key-not-for-production-0123456789",
    "test-only-secret-key-0123456789abcdef-0123456789",
    # Any other copied placeholder, and keys that are long but not random.
    "please-change-me-before-going-live-0123456789",
    "example-secret-key-for-the-readme-0123456789",
    "a" * 64,
    "abababababababababababababababababab",
]


@pytest.mark.parametrize("key", KNOWN_KEYS)
@pytest.mark.parametrize("environment", ["production", "test", "development"])
def test_a_publicly_known_or_weak_secret_key_is_refused(key: str, environment: str) -> None:
    with pytest.raises(SettingsError, match="SECRET_KEY") as raised:
        load(ENVIRONMENT=environment, SECRET_KEY=key)
    assert key not in str(raised.value)
    assert "token_urlsafe" in str(raised.value)  # says how to make a good one


def test_development_without_a_key_signs_with_a_random_key_per_process(
    log_stream: io.BytesIO,
) -> None:
    """The app signs with a fresh random key: a token signed with any key in the repository
    (or with another process's key) is refused."""
    from api.app import create_app

    first = create_app(Settings())
    second = create_app(Settings())
    assert first.state.settings.secret_key == ""
    keys = {first.state.signing_key, second.state.signing_key}
    assert len(keys) == 2
    assert not keys & set(KNOWN_KEYS)
    assert all(len(key.encode()) >= 32 for key in keys)


def test_forwarded_allow_ips_must_be_addresses_or_networks() -> None:
    assert load(FORWARDED_ALLOW_IPS="10.0.0.0/8, ::1").forwarded_allow_ips == "10.0.0.0/8, ::1"
    assert load(FORWARDED_ALLOW_IPS="*").forwarded_allow_ips == "*"
    assert load().forwarded_allow_ips == ""  # trusts no proxy by default
    with pytest.raises(SettingsError, match="FORWARDED_ALLOW_IPS"):
        load(FORWARDED_ALLOW_IPS="10.0.0.1,proxy.example.com")


def test_http_semantics_settings_are_read_from_the_environment() -> None:
    settings = load(
        CORS_ALLOW_ORIGINS=" https://App.example.com , http://localhost:3000",
        CORS_MAX_AGE_SECONDS="60",
        IDEMPOTENCY_TTL_SECONDS="5",
    )
    assert settings.cors_origins == ("https://app.example.com", "http://localhost:3000")
    assert settings.cors_max_age_seconds == 60
    assert settings.idempotency_ttl_seconds == 5
    assert load().cors_origins == ()
    assert load().idempotency_ttl_seconds == 86400
    with pytest.raises(SettingsError, match="IDEMPOTENCY_TTL_SECONDS"):
        load(IDEMPOTENCY_TTL_SECONDS="0")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("REQUEST_TIMEOUT_MS", "0"),
        ("DB_ACQUIRE_TIMEOUT_MS", "-5"),
        ("MAX_CONCURRENT_REQUESTS", "0"),
        ("DB_CONNECT_TIMEOUT_S", "0"),
        ("DB_CONNECT_TIMEOUT_S", "soon"),
    ],
)
def test_budget_settings_are_checked(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings({variable: value}, dotenv=None)


def test_budget_settings_defaults() -> None:
    settings = load()
    assert settings.request_timeout_ms == 5000
    assert settings.db_acquire_timeout_ms == 1000
    assert settings.db_connect_timeout_s == 30
    assert load(REQUEST_TIMEOUT_MS="250").request_timeout_ms == 250


def test_replica_urls_are_a_comma_separated_list() -> None:
    assert load().replica_urls == ()
    settings = load(DATABASE_REPLICA_URLS=" postgresql://r1:5433/items ,,postgres://r2/items")
    assert settings.replica_urls == ("postgresql://r1:5433/items", "postgres://r2/items")
    assert (settings.replica_max_lag_ms, settings.replica_wait_ms) == (1000, 50)
