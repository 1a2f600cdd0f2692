"""Settings: read from `.env` and the environment, validated with messages naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.settings import Settings, SettingsError, load_settings

LONG_SECRET = "s" * 32


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
    assert load(ENVIRONMENT="production", SECRET_KEY="€" * 11).secret_key == "€" * 11


def test_settings_built_in_code_are_checked_too() -> None:
    """create_app falls back to the development key when SECRET_KEY is empty; production must
    never get there, however its Settings were made."""
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
