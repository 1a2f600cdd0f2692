"""scripts/dev.sh on a fresh machine: Debian's stock PostgreSQL (peer over the socket, a password
over TCP, none set for postgres), an old or missing Python, and a second `serve` that installs
nothing. Its functions run sourced, in a folder of the test's own (never the repository's .env),
against a private cluster (never the shared server)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from api.settings import read_dotenv
from tests import ROOT
from tests.cluster import Cluster

DEV_SH = ROOT / "scripts" / "dev.sh"
# A Python 3.11+ with venv and ensurepip: the one running the tests.
PYTHON = Path(sys.executable).resolve()

pytestmark = pytest.mark.skipif(
    not shutil.which("runuser") or os.geteuid() != 0,
    reason="runs PostgreSQL as the postgres OS user, which needs root",
)


def dev_sh(
    script: str, cwd: Path, env: dict[str, str] | None = None, path: str = "/usr/bin:/bin"
) -> subprocess.CompletedProcess[str]:
    """`script` after sourcing dev.sh, in `cwd`, with nothing to read from a terminal."""
    return subprocess.run(
        ["/bin/bash", "-c", f"source {DEV_SH}\n{script}"],
        cwd=cwd,
        env={"PATH": path, "HOME": str(cwd), **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def debian_cluster() -> Iterator[Cluster]:
    """A cluster with Debian's pg_hba.conf: peer for the socket, scram-sha-256 over TCP."""
    root = Path(tempfile.mkdtemp(prefix="items-dev-sh-"))
    cluster = Cluster(root)
    cluster.init(local_auth="peer", host_auth="scram-sha-256")
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def workdir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="items-dev-sh-work-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def cluster_env(cluster: Cluster) -> dict[str, str]:
    return {"DEV_PG_PORT": str(cluster.port), "DEV_PG_SOCKET_DIR": str(cluster.root)}


# --- PostgreSQL -------------------------------------------------------------------------------


def test_a_stock_debian_server_gets_a_role_and_urls_in_dot_env(
    debian_cluster: Cluster, workdir: Path
) -> None:
    (workdir / ".env").write_text("SECRET_KEY=kept\n")
    env = cluster_env(debian_cluster)
    done = dev_sh(
        'load_dotenv\nensure_postgres DATABASE_URL\necho "url=$DATABASE_URL"', workdir, env
    )
    assert done.returncode == 0, done.stderr
    assert "Password" not in done.stderr
    dotenv = read_dotenv(workdir / ".env")
    assert dotenv["SECRET_KEY"] == "kept"
    assert f"url={dotenv['DATABASE_URL']}" in done.stdout
    assert stat.S_IMODE((workdir / ".env").stat().st_mode) == 0o600
    assert dotenv["DATABASE_URL"].startswith("postgresql://items_dev:")
    assert dotenv["DATABASE_URL"].endswith(f"@127.0.0.1:{debian_cluster.port}/items")
    with psycopg.connect(dotenv["DATABASE_URL"]) as connection:
        owner = connection.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
        ).fetchone()
        assert owner == ("items_dev",)
    # The tests make databases of their own on the test server.
    with psycopg.connect(dotenv["TEST_DATABASE_URL"], autocommit=True) as connection:
        connection.execute("CREATE DATABASE items_dev_sh_probe")
        connection.execute("DROP DATABASE items_dev_sh_probe")

    # Once .env names the databases, nothing more is made.
    again = dev_sh("load_dotenv\nensure_postgres TEST_DATABASE_URL", workdir, env)
    assert again.returncode == 0, again.stderr
    assert "creating the PostgreSQL role" not in again.stderr
    assert read_dotenv(workdir / ".env") == dotenv

    # A URL gone from .env is made again with the role's password as the other URL has it.
    (workdir / ".env").write_text(
        f"SECRET_KEY=kept\nDATABASE_URL={dotenv['DATABASE_URL']}\n", encoding="utf-8"
    )
    remade = dev_sh("load_dotenv\nensure_postgres TEST_DATABASE_URL", workdir, env)
    assert remade.returncode == 0, remade.stderr
    assert read_dotenv(workdir / ".env")["TEST_DATABASE_URL"] == dotenv["TEST_DATABASE_URL"]
    with psycopg.connect(dotenv["DATABASE_URL"]):
        pass


def test_no_way_in_says_what_to_set_instead_of_asking_a_password(
    debian_cluster: Cluster, workdir: Path
) -> None:
    # No socket where dev.sh looks: postgres cannot log in by peer either.
    env = {**cluster_env(debian_cluster), "DEV_PG_SOCKET_DIR": str(workdir)}
    done = dev_sh("ensure_postgres DATABASE_URL", workdir, env)
    assert done.returncode == 1
    assert "set DATABASE_URL" in done.stderr
    assert "Password" not in done.stderr
    assert not (workdir / ".env").exists()


# --- Python -----------------------------------------------------------------------------------


def fake_python(path: Path, script: str) -> None:
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)


# A Python too old (or absent, or broken): it fails dev.sh's check of its version.
OLD = 'case "$1" in --version) echo "Python 3.10.12" ;; *) exit 1 ;; esac'


def bin_with(folder: Path, **pythons: str) -> str:
    """A PATH whose python3, python3.11, .12 and .13 are fakes (OLD unless given), then the
    system's folders."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in ("python3", "python3.11", "python3.12", "python3.13"):
        fake_python(bin_dir / name, pythons.get(name.replace(".", "_"), OLD))
    return f"{bin_dir}:/usr/bin:/bin"


def test_an_old_python3_is_passed_over_for_a_newer_one(workdir: Path) -> None:
    path = bin_with(workdir, python3_12=f'exec {PYTHON} "$@"')
    done = dev_sh("find_python", workdir, path=path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(workdir / "bin" / "python3.12")


def test_no_python_and_no_apt_fails_with_what_to_install(workdir: Path) -> None:
    path = bin_with(workdir)
    done = dev_sh(
        'apt_install() { echo "apt $*" >&2; return 1; }\nensure_python', workdir, path=path
    )
    assert done.returncode == 1
    assert "apt python3.11 python3.11-venv python3.11-dev" in done.stderr
    assert "needs Python 3.11 or newer" in done.stderr


def test_python_installed_by_apt_is_used(workdir: Path) -> None:
    path = bin_with(workdir)
    installed = workdir / "bin" / "python3.11"
    script = f"apt_install() {{ ln -sf {PYTHON} {installed}; }}\nensure_python"
    done = dev_sh(script, workdir, path=path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(installed)


def test_a_venv_of_an_old_python_is_made_again(workdir: Path) -> None:
    (workdir / ".venv" / "bin").mkdir(parents=True)
    fake_python(workdir / ".venv" / "bin" / "python", OLD)
    path = bin_with(workdir, python3_11=f'exec {PYTHON} "$@"')
    done = dev_sh("ensure_venv", workdir, path=path)
    assert done.returncode == 0, done.stderr
    assert "recreating .venv: Python 3.10.12" in done.stderr
    version = subprocess.run(
        [workdir / ".venv" / "bin" / "python", "-c", "import sys, pip; print(sys.version_info[1])"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(version.stdout) >= 11


def test_a_venv_that_cannot_be_made_is_not_left_behind(workdir: Path) -> None:
    # Passes the check, then leaves half a venv and fails (a full disk, no ensurepip).
    half = 'case "$1" in -c) exit 0 ;; -m) mkdir -p "$3/bin"; exit 1 ;; *) echo 3.11.9 ;; esac'
    path = bin_with(workdir, python3_11=half)
    done = dev_sh("ensure_venv", workdir, path=path)
    assert done.returncode == 1
    assert "could not create .venv" in done.stderr
    assert not (workdir / ".venv").exists()


# --- installing from the locks ----------------------------------------------------------------


@pytest.fixture
def project(workdir: Path) -> Path:
    """Locks, pyproject.toml and a .venv whose python records what it is asked to run."""
    (workdir / "requirements").mkdir()
    (workdir / "requirements" / "serve.txt").write_text("serve lock\n")
    (workdir / "requirements" / "test.txt").write_text("test lock\n")
    (workdir / "pyproject.toml").write_text("[project]\n")
    (workdir / ".venv" / "bin").mkdir(parents=True)
    fake_python(workdir / ".venv" / "bin" / "python", f'echo "$*" >>{workdir / "calls.log"}')
    return workdir


def pip_calls(project: Path) -> list[str]:
    log = project / "calls.log"
    calls = log.read_text().splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return calls


def test_serve_installs_only_when_the_lock_or_pyproject_changed(project: Path) -> None:
    def install(lock: str) -> None:
        done = dev_sh(f"install_deps {lock}", project)
        assert done.returncode == 0, done.stderr

    install("serve")
    assert pip_calls(project) == [
        "-m pip install -q --require-hashes -r requirements/serve.txt",
        "-m pip install -q --no-deps -e .",
    ]
    install("serve")
    assert pip_calls(project) == []
    (project / "requirements" / "serve.txt").write_text("serve lock, upgraded\n")
    install("serve")
    assert len(pip_calls(project)) == 2
    (project / "pyproject.toml").write_text("[project]\nname = 'changed'\n")
    install("serve")
    assert len(pip_calls(project)) == 2
    # The test lock holds the serve lock's pins: installed, it serves too.
    install("test")
    assert pip_calls(project)[0].endswith("-r requirements/test.txt")
    install("serve")
    assert pip_calls(project) == []
    install("test")
    assert pip_calls(project) == []


def test_a_failed_install_is_tried_again(project: Path) -> None:
    fake_python(
        project / ".venv" / "bin" / "python", f'echo "$*" >>{project / "calls.log"}; exit 1'
    )
    assert dev_sh("install_deps serve", project).returncode == 1
    assert not (project / ".venv" / ".installed").exists()
    assert len(pip_calls(project)) == 1
