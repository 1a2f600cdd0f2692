#!/usr/bin/env bash
# One entry point for a fresh Debian/Ubuntu machine:
#   scripts/dev.sh serve   set up, create and migrate the database, run the API on :8000
#   scripts/dev.sh test    set up, then run every check CI runs (lint, types, SQL, tests, bench smoke)
#   scripts/dev.sh lock    make requirements/*.txt again from pyproject.toml (--upgrade: newest allowed)
set -euo pipefail

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

apt_updated=0
apt_install() {
    command -v apt-get >/dev/null || { echo "install these packages: $*" >&2; return 1; }
    if [ "$apt_updated" -eq 0 ]; then as_root apt-get update -qq >&2; apt_updated=1; fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# The locks (requirements/<set>.txt, made by `scripts/dev.sh lock` from pyproject.toml): `serve`
# installs the service's dependencies, `test` those and the test, dev and bench extras.
LOCK_DIR=requirements

# A Python the venv can be made with: 3.11 or newer, with venv and ensurepip (Debian ships
# those in python3.X-venv).
python_ok() { "$1" -c 'import sys, venv, ensurepip; assert sys.version_info >= (3, 11)' >/dev/null 2>&1; }

find_python() {
    local candidate
    for candidate in python3 python3.13 python3.12 python3.11; do
        if command -v "$candidate" >/dev/null && python_ok "$candidate"; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

# Prints the Python to make the venv with, installing python3.11 with apt when there is none.
ensure_python() {
    local python
    if python=$(find_python); then echo "$python"; return 0; fi
    log "no Python 3.11+ with venv on PATH ($(python3 --version 2>&1 || echo 'no python3')): installing python3.11"
    if apt_install python3.11 python3.11-venv python3.11-dev && python=$(find_python); then
        echo "$python"
        return 0
    fi
    echo "scripts/dev.sh needs Python 3.11 or newer with its venv module, and none was found on" >&2
    echo "PATH (python3, python3.13, python3.12, python3.11) nor installed with apt. Install one" >&2
    echo "(e.g. apt-get install python3.11 python3.11-venv, pyenv or uv) and run it again." >&2
    return 1
}

# A .venv of a Python too old, or broken (no interpreter, no pip: an interrupted creation), is
# made again; one whose creation fails is removed, never left half-made.
ensure_venv() {
    if [ -e .venv ] && ! .venv/bin/python -c 'import sys, pip; assert sys.version_info >= (3, 11)' \
        >/dev/null 2>&1; then
        log "recreating .venv: $(.venv/bin/python --version 2>&1 || echo 'its python does not run') is not a Python 3.11+ with pip"
        rm -rf .venv
    fi
    [ -e .venv ] && return 0
    local python
    python=$(ensure_python) || return 1
    log "creating .venv with $python ($("$python" --version 2>&1))"
    if ! "$python" -m venv .venv || ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
        rm -rf .venv
        echo "could not create .venv with $python" >&2
        return 1
    fi
}

# What an install from the lock of set $1 depends on: the lock and pyproject.toml.
install_stamp() { cat "$LOCK_DIR/$1.txt" pyproject.toml | sha256sum | cut -d ' ' -f 1; }

# Install the lock of set $1 (serve or test), unless .venv/.installed says it already holds it (the
# test lock holds every pin of the serve lock: tests/test_lock.py).
install_deps() {
    local installed=""
    [ -f .venv/.installed ] && installed=$(cat .venv/.installed)
    if [ "$installed" = "$1 $(install_stamp "$1")" ] \
        || { [ "$1" = serve ] && [ "$installed" = "test $(install_stamp test)" ]; }; then
        log "Python dependencies ($1) are installed"
        return 0
    fi
    log "installing Python dependencies from $LOCK_DIR/$1.txt"
    rm -f .venv/.installed
    .venv/bin/python -m pip install -q --require-hashes -r "$LOCK_DIR/$1.txt"
    .venv/bin/python -m pip install -q --no-deps -e .
    echo "$1 $(install_stamp "$1")" >.venv/.installed
}

# The value of KEY in ./.env (as api/settings.py reads it: `KEY=value`, optionally `export `
# and quotes), or nothing.
dotenv_value() {
    [ -f .env ] || return 0
    sed -n -E "s/^[[:space:]]*(export[[:space:]]+)?$1[[:space:]]*=[[:space:]]*//p" .env | tail -n 1 \
        | sed -E -e 's/[[:space:]]+$//' -e "s/^\"(.*)\"$/\1/" -e "s/^'(.*)'$/\1/"
}

# DATABASE_URL and TEST_DATABASE_URL from .env count as if set in the environment (which wins),
# so that a database named there is used instead of installing and starting a local one.
load_dotenv() {
    local key value
    for key in DATABASE_URL TEST_DATABASE_URL; do
        if [ -z "${!key:-}" ]; then
            value=$(dotenv_value "$key")
            if [ -n "$value" ]; then export "$key=$value"; fi
        fi
    done
}

postgres_answers() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

ensure_postgres() {
    # A given database URL ($1 names the variable: DATABASE_URL to serve, TEST_DATABASE_URL to
    # test) is used as it is; otherwise a local server on 127.0.0.1:5432.
    if [ -n "${!1:-}" ]; then return; fi
    if ! command -v pg_isready >/dev/null; then
        log "installing PostgreSQL"
        apt_install postgresql postgresql-contrib
    fi
    if ! postgres_answers; then
        log "starting PostgreSQL"
        if command -v pg_ctlcluster >/dev/null; then
            version=$(ls /etc/postgresql | sort -V | tail -n 1)
            as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
        fi
        for _ in $(seq 1 30); do postgres_answers && break; sleep 1; done
    fi
    if ! postgres_answers; then
        echo "PostgreSQL does not answer on 127.0.0.1:5432. Install and start it" >&2
        echo "(sudo apt-get install postgresql), or set DATABASE_URL / TEST_DATABASE_URL." >&2
        exit 1
    fi
    # The scripts connect as postgres over TCP; allow it without a password on this machine only.
    if ! psql -h 127.0.0.1 -U postgres -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
        echo "cannot log in as postgres on 127.0.0.1: set DATABASE_URL (and TEST_DATABASE_URL)" >&2
        echo "to a URL with credentials, e.g. postgresql://user:password@127.0.0.1:5432/items" >&2
        exit 1
    fi
}

ensure_test_tools() {
    command -v wrk >/dev/null || { log "installing wrk (load generator)"; apt_install wrk; }
    [ -x /usr/sbin/pgbouncer ] || command -v pgbouncer >/dev/null \
        || { log "installing pgbouncer (the transaction-pooling test)"; apt_install pgbouncer; }
    command -v pg_isready >/dev/null || apt_install postgresql-client
    command -v valgrind >/dev/null || { log "installing valgrind (instruction counts)"; apt_install valgrind; }
    # The browser test drives Debian's Chromium through Playwright (no browser download).
    [ -x /usr/bin/chromium ] || { log "installing chromium (the /docs browser test)"; apt_install chromium; }
}

# Sourced (by tests): the functions only.
if [ "${BASH_SOURCE[0]}" != "$0" ]; then return 0; fi
cd "$(dirname "$0")/.."
load_dotenv

case "${1:-}" in
serve)
    shift
    ensure_venv
    install_deps serve
    ensure_postgres DATABASE_URL
    exec .venv/bin/python -m api serve "$@"
    ;;
test)
    ensure_venv
    install_deps test
    ensure_postgres TEST_DATABASE_URL
    ensure_test_tools
    log "ruff"
    .venv/bin/ruff check .
    .venv/bin/ruff format --check .
    log "mypy (strict on api/ and queries/)"
    .venv/bin/mypy
    log "SQL: formatting, migration lint, catalog, plans on 100k seeded items"
    .venv/bin/sqlfluff lint sql migrations
    .venv/bin/squawk --config .squawk.toml migrations/*.sql
    .venv/bin/python -m api sql catalog --check
    # sql check creates (and drops) its own database on the test server.
    DATABASE_URL="${TEST_DATABASE_URL:-${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}}" \
        .venv/bin/python -m api sql check
    log "benchmark harness smoke run (a few seconds per server and endpoint)"
    .venv/bin/python -m benchmarks run --smoke
    log "instructions per GET by id under callgrind (on a database of its own)"
    .venv/bin/python -m benchmarks instructions --requests 20
    log "pytest"
    .venv/bin/pytest -q
    ;;
lock)
    # The locks again from pyproject.toml, keeping every pin still allowed (--upgrade: newest).
    shift
    ensure_venv
    install_deps test
    for set in test serve; do
        extras=(--extra test --extra dev --extra bench)
        # The serve lock takes the test lock's versions: one venv holds both (install_deps).
        [ "$set" = serve ] && extras=(-c "$LOCK_DIR/test.txt")
        UV_CUSTOM_COMPILE_COMMAND="scripts/dev.sh lock" .venv/bin/uv pip compile pyproject.toml \
            "${extras[@]}" --universal --python-version 3.11 --generate-hashes --quiet \
            -o "$LOCK_DIR/$set.txt" "$@"
    done
    ;;
*)
    echo "usage: scripts/dev.sh serve [--host H] [--port P] [--workers N] | scripts/dev.sh test" >&2
    echo "       scripts/dev.sh lock [--upgrade]" >&2
    exit 2
    ;;
esac
