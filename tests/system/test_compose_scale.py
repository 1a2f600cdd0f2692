"""docker compose --profile scale, checked without a Docker engine: the compose file's services,
their order and health checks, the files they mount, HAProxy's configuration (`haproxy -c`) and
PgBouncer's (Debian's pgbouncer started on it, on a private port)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from api.settings import load_settings
from tests.conftest import TEST_SECRET_KEY
from tests.deploy import (
    DEPLOY,
    HAPROXY,
    PGBOUNCER,
    PREPARED_STATEMENTS_SINCE,
    ROOT,
    render_pgbouncer_ini,
    require,
    start_pgbouncer,
)
from tests.servers import free_port

SCALE = {
    "db-primary",
    "db-replica",
    "pgbouncer-primary",
    "pgbouncer-replica",
    "migrate",
    "api-1",
    "api-2",
    "haproxy",
}


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _compose()["services"]
    return services


def _interpolate(value: str, environ: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?message}, from `environ`."""

    def one(match: re.Match[str]) -> str:
        name, operator, rest = match.group(1), match.group(2), match.group(3)
        if environ.get(name):
            return environ[name]
        if operator == ":?":
            raise AssertionError(f"{name} is required")
        return rest or ""

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, value)


def test_the_default_profile_is_unchanged_and_needs_only_a_secret_key() -> None:
    services = _services()
    default = {name for name, service in services.items() if "profiles" not in service}
    assert default == {"db", "api"}
    assert services["api"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    # Compose interpolates every service, whatever the profile: a variable the scale profile
    # required would stop `docker compose up` of the default one.
    text = (ROOT / "docker-compose.yml").read_text()
    assert set(re.findall(r"\$\{(\w+):\?", text)) == {"SECRET_KEY"}
    assert {name for name, service in services.items() if "scale" in service.get("profiles", [])}
    assert set(services) - default == SCALE
    for name in SCALE:
        assert services[name]["profiles"] == ["scale"], name


def test_images_are_pinned_and_the_replica_runs_the_primarys() -> None:
    services = _services()
    for name, service in services.items():
        if "image" in service:
            repository, _, tag = service["image"].rpartition(":")
            assert repository, f"{name}: {service['image']}"
            assert tag not in ("", "latest"), f"{name}: {service['image']}"
        else:
            assert service["build"] == ".", name
    assert services["db-replica"]["image"] == services["db-primary"]["image"]


def test_each_service_starts_after_what_it_needs_is_healthy() -> None:
    services = _services()
    healthy, completed = "service_healthy", "service_completed_successfully"
    expected = {
        "db-replica": {"db-primary": healthy},
        "pgbouncer-primary": {"db-primary": healthy},
        "pgbouncer-replica": {"db-replica": healthy},
        "migrate": {"db-primary": healthy},
        "api-1": {"migrate": completed, "pgbouncer-primary": healthy, "pgbouncer-replica": healthy},
        "api-2": {"migrate": completed, "pgbouncer-primary": healthy, "pgbouncer-replica": healthy},
        "haproxy": {"api-1": healthy, "api-2": healthy},
    }
    for name, needs in expected.items():
        depends = services[name]["depends_on"]
        assert {dep: spec["condition"] for dep, spec in depends.items()} == needs, name
    for name, service in services.items():
        for dep, spec in service.get("depends_on", {}).items():
            if spec["condition"] == healthy:
                assert services[dep]["healthcheck"]["test"], f"{name} waits on {dep}'s health"
        if name in SCALE and name != "migrate":
            assert service["restart"] == "unless-stopped", name
    for name in ("db-primary", "db-replica", "pgbouncer-primary", "pgbouncer-replica"):
        # Over TCP: PostgreSQL answers on its socket alone while it initializes.
        assert "-h 127.0.0.1" in " ".join(services[name]["healthcheck"]["test"]), name
    assert "/readyz" in " ".join(services["api-1"]["healthcheck"]["test"])


def test_every_mounted_file_exists_and_every_script_parses() -> None:
    services = _services()
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts {source}"
        entrypoint = service.get("entrypoint")
        if entrypoint:
            # The script is one of the mounted files: /deploy/x inside is ./deploy/x here.
            script = entrypoint[-1]
            assert script.startswith("/deploy/"), (name, script)
            assert (ROOT / script.lstrip("/")).is_file(), (name, script)
    mounted = services["db-primary"]["volumes"]
    assert any(v.endswith(":/docker-entrypoint-initdb.d/10-scale.sh:ro") for v in mounted)
    for script in sorted(DEPLOY.glob("**/*.sh")):
        subprocess.run(["/bin/sh", "-n", str(script)], check=True)
        assert os.access(script, os.X_OK), script


def test_the_instances_settings_are_valid_and_go_through_pgbouncer() -> None:
    services = _services()
    secrets = {"SECRET_KEY": TEST_SECRET_KEY, "APP_DB_PASSWORD": "app-password"}
    for name in ("api-1", "api-2"):
        raw = services[name]["environment"]
        environ = {key: _interpolate(str(value), secrets) for key, value in raw.items()}
        settings = load_settings(environ, dotenv=None)
        assert urlsplit(settings.database_url).hostname == "pgbouncer-primary"
        (replica,) = settings.replica_urls
        assert urlsplit(replica).hostname == "pgbouncer-replica"
        assert urlsplit(replica).password == "app-password"
        assert not settings.db_session_parameters
        assert (
            settings.forwarded_allow_ips
            == (services["haproxy"]["networks"]["scale"]["ipv4_address"])
        )
        # Passwords come from the environment, never written in the file.
        assert "${APP_DB_PASSWORD:-}@" in raw["DATABASE_URL"]
        assert "--no-migrate" in services[name]["command"]
    migrate = services["migrate"]
    assert migrate["command"][-2:] == ["migrate", "up"]
    # Migrations straight to the primary: no pooler between them and their DDL.
    assert "@db-primary:5432/" in migrate["environment"]["DATABASE_URL"]


def _image_version(image: str) -> tuple[int, int]:
    match = re.search(r":v?(\d+)\.(\d+)", image)
    assert match, image
    return int(match.group(1)), int(match.group(2))


def test_the_statement_cache_stays_on_only_with_a_pgbouncer_that_keeps_prepared_statements() -> (
    None
):
    services = _services()
    ini = (DEPLOY / "pgbouncer" / "pgbouncer.ini").read_text()
    tracks = re.search(r"^max_prepared_statements\s*=\s*[1-9]", ini, re.MULTILINE) is not None
    for name in ("pgbouncer-primary", "pgbouncer-replica"):
        assert _image_version(services[name]["image"]) >= PREPARED_STATEMENTS_SINCE or not tracks
    cache = int(services["api-1"]["environment"]["DB_STATEMENT_CACHE_SIZE"])
    assert cache == 0 or tracks
    assert re.search(r"^pool_mode\s*=\s*transaction$", ini, re.MULTILINE)


def test_pgbouncer_starts_on_the_profiles_configuration() -> None:
    require(PGBOUNCER)
    folder = Path(tempfile.mkdtemp(prefix="pgbouncer-config-"))
    try:
        ini = render_pgbouncer_ini(
            {
                "TARGET_HOST": "127.0.0.1",
                "TARGET_PORT": "5432",
                "LISTEN_ADDR": "127.0.0.1",
                "LISTEN_PORT": str(free_port()),
                "RUN_DIR": str(folder),
            }
        )
        process = start_pgbouncer(folder, ini, "items", "a password")
        process.terminate()
        process.wait(timeout=10)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def haproxy_check(environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HAPROXY, "-c", "-f", str(DEPLOY / "haproxy" / "haproxy.cfg")],
        env={**os.environ, **environ},
        capture_output=True,
        text=True,
        check=False,
    )


def test_haproxy_configuration_is_valid_and_checks_readyz() -> None:
    require(HAPROXY)
    haproxy = _services()["haproxy"]
    checked = haproxy_check(haproxy["environment"])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # The instances' names do not resolve here: HAProxy starts without them and resolves them
    # later (init-addr none), as it must when it starts before an instance is reachable.
    assert "could not resolve address 'api-1'" in checked.stderr
    config = (DEPLOY / "haproxy" / "haproxy.cfg").read_text()
    assert "http-check send meth GET uri /readyz" in config
    assert "http-check expect status 200" in config
    # One server line per instance, each named by its variable in the compose file.
    servers = re.findall(r'^\s*server \S+ "\$\{(\w+)\}" check$', config, re.MULTILINE)
    assert servers == ["API_1", "API_2"]
    assert {haproxy["environment"][name].split(":")[0] for name in servers} == {"api-1", "api-2"}
    assert haproxy["ports"] == ["127.0.0.1:8080:8000"]
    # A broken configuration fails the check (the check is real).
    broken = haproxy_check({**haproxy["environment"], "HAPROXY_BIND": "not-an-address"})
    assert broken.returncode != 0


def test_pgbouncers_entrypoint_renders_what_the_tests_render(tmp_path: Path) -> None:
    """deploy/pgbouncer/entrypoint.sh (sed) and render_pgbouncer_ini (the tests') fill the
    template alike; the userlist holds the password from the environment, quotes doubled."""
    shims, run = tmp_path / "bin", tmp_path / "run"
    shims.mkdir()
    # In place of PgBouncer: show the configuration it would have been started on.
    (shims / "pgbouncer").write_text('#!/bin/sh\ncat "$1"\n')
    (shims / "pgbouncer").chmod(0o755)
    password = 'a "quoted" pass'
    done = subprocess.run(
        ["/bin/sh", str(DEPLOY / "pgbouncer" / "entrypoint.sh")],
        env={
            "PATH": f"{shims}:/usr/bin:/bin",
            "PGBOUNCER_TARGET_HOST": "db-primary",
            "PGBOUNCER_USER": "items",
            "PGBOUNCER_PASSWORD": password,
            "PGBOUNCER_RUN_DIR": str(run),
        },
        capture_output=True,
        text=True,
        check=True,
    )
    template = (DEPLOY / "pgbouncer" / "pgbouncer.ini").read_text()
    values = {
        "TARGET_HOST": "db-primary",
        "TARGET_PORT": "5432",
        "LISTEN_ADDR": "0.0.0.0",  # noqa: S104 (inside its container)
        "LISTEN_PORT": "6432",
        "RUN_DIR": str(run),
    }
    for name, value in values.items():
        template = template.replace(f"@{name}@", value)
    assert done.stdout == template
    assert (run / "userlist.txt").read_text() == '"items" "a ""quoted"" pass"\n'
    assert oct((run / "userlist.txt").stat().st_mode & 0o777) == oct(0o600)
    # Without a password it refuses to start, saying which variable to set.
    refused = subprocess.run(
        ["/bin/sh", str(DEPLOY / "pgbouncer" / "entrypoint.sh")],
        env={"PATH": f"{shims}:/usr/bin:/bin", "PGBOUNCER_TARGET_HOST": "x", "PGBOUNCER_USER": "u"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 1
    assert "APP_DB_PASSWORD" in refused.stderr
