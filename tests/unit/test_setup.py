"""A setup without snags: .env.example lists every setting with its default, scripts/dev.sh
honours .env, and the compose file and .dockerignore are what docs/operations.md promises."""

from __future__ import annotations

import fnmatch
import re
import subprocess
from pathlib import Path

import msgspec
import yaml

from api.settings import Settings, load_settings, read_dotenv
from tests import ROOT

SETTINGS = [field.name.upper() for field in msgspec.structs.fields(Settings)]


def test_env_example_lists_every_setting_with_its_default() -> None:
    example = ROOT / ".env.example"
    listed = read_dotenv(example)
    missing = [name for name in SETTINGS if name not in listed]
    assert not missing, f"add these settings to .env.example: {missing}"
    unknown = sorted(set(listed) - set(SETTINGS))
    assert not unknown, f".env.example names settings that do not exist: {unknown}"
    # Copied as .env, it changes nothing: every value is the default.
    loaded = load_settings(environ={}, dotenv=example)
    defaults = Settings()
    for field in msgspec.structs.fields(Settings):
        got, default = getattr(loaded, field.name), getattr(defaults, field.name)
        if field.name == "static_dir":
            assert (ROOT / got).resolve() == Path(default).resolve()
        else:
            assert got == default, field.name


def test_configuration_table_documents_every_setting() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    table = "\n".join(line for line in page.splitlines() if line.startswith("| `"))
    missing = [name for name in SETTINGS if f"`{name}`" not in table]
    assert not missing, f"document these settings in docs/configuration.md's table: {missing}"


def _dev_sh(script: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["/bin/bash", "-c", f"source {ROOT / 'scripts' / 'dev.sh'}\n{script}"],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_dev_sh_uses_the_database_url_of_dot_env(tmp_path: Path) -> None:
    remote = "postgresql://app:secret@db.example.org:6543/items"
    (tmp_path / ".env").write_text(
        f"# DATABASE_URL=postgresql://commented@out/x\nexport DATABASE_URL='{remote}'\n"
    )
    # No local PostgreSQL is installed or started for it: apt would fail the script here.
    script = (
        'apt_install() { echo "apt_install $*"; exit 99; }\n'
        "load_dotenv\nensure_postgres DATABASE_URL\n"
        'echo "url=$DATABASE_URL test=${TEST_DATABASE_URL-unset}"'
    )
    assert _dev_sh(script, tmp_path).strip() == f"url={remote} test=unset"
    # The environment wins over .env, as in api/settings.py.
    given = "postgresql://postgres@127.0.0.1:5432/other"
    out = _dev_sh('load_dotenv\necho "url=$DATABASE_URL"', tmp_path, {"DATABASE_URL": given})
    assert out.strip() == f"url={given}"


def _compose() -> dict[str, dict[str, dict[str, object]]]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_compose_checks_the_database_over_tcp_restarts_and_needs_a_secret_key() -> None:
    services = _compose()["services"]
    db, api = services["db"], services["api"]
    healthcheck = db["healthcheck"]
    assert isinstance(healthcheck, dict)
    command = " ".join(healthcheck["test"])
    assert re.search(r"pg_isready\b.*\s-h\s+127\.0\.0\.1\b", command), command
    assert api["restart"] in ("always", "unless-stopped", "on-failure")
    assert api["depends_on"] == {"db": {"condition": "service_healthy"}}
    environment = api["environment"]
    assert isinstance(environment, dict)
    # Required from the environment, never a default written in the file.
    secret = environment["SECRET_KEY"]
    assert re.fullmatch(r"\$\{SECRET_KEY:\?[^}]+\}", secret), secret
    assert "token_urlsafe" in secret  # the message says how to make one
    assert environment["ENVIRONMENT"] == "production"


def _ignored(patterns: list[str], path: str) -> bool:
    return any(fnmatch.fnmatch(path, pattern.removeprefix("**/")) for pattern in patterns)


def test_dockerignore_keeps_environments_and_secrets_out_but_not_what_the_image_copies() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for path in (".venv", ".git", ".env", "benchmarks/.work", "__pycache__", ".mypy_cache"):
        assert _ignored(patterns, path), path
    copied = re.findall(r"^COPY\s+(.+?)\s+\S+$", (ROOT / "Dockerfile").read_text(), re.M)
    sources = [source for line in copied for source in line.split()]
    assert "api" in sources
    for source in sources:
        assert not _ignored(patterns, source), f"the Dockerfile copies {source}"
