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
# test lock holds every pin of the serve lock: tests/unit/test_lock.py).
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
    .venv/bin/python -m pip install -q --require-hashes -r "$LOCK_DIR/$1.txt" || return 1
    .venv/bin/python -m pip install -q --no-deps -e . || return 1
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

# The local server: TCP on 127.0.0.1:$DEV_PG_PORT, its socket in $DEV_PG_SOCKET_DIR (Debian's).
# Tests point these at a private cluster.
DEV_PG_PORT=${DEV_PG_PORT:-5432}
DEV_PG_SOCKET_DIR=${DEV_PG_SOCKET_DIR:-/var/run/postgresql}
# The role dev.sh makes where postgres cannot log in over TCP without a password.
DEV_PG_ROLE=items_dev

postgres_answers() { pg_isready -q -h 127.0.0.1 -p "$DEV_PG_PORT" 2>/dev/null; }

# psql over TCP that never asks for a password (-w) and gives up on a silent server.
psql_tcp() { PGCONNECT_TIMEOUT=5 psql -w -X -q -h 127.0.0.1 -p "$DEV_PG_PORT" "$@"; }

# Run a command as the postgres OS user, never asking for a password (sudo -n).
as_postgres() {
    local runuser
    runuser=$(command -v runuser || echo /usr/sbin/runuser) # root's PATH may lack sbin (su)
    if [ "$(id -un)" = postgres ]; then
        "$@"
    elif [ "$(id -u)" -eq 0 ] && [ -x "$runuser" ]; then
        "$runuser" -u postgres -- "$@"
    elif command -v sudo >/dev/null && sudo -n -u postgres true 2>/dev/null; then
        sudo -n -u postgres "$@"
    else
        return 1
    fi
}

# psql as postgres over the local socket: Debian's pg_hba.conf lets the postgres OS user in (peer).
psql_peer() {
    as_postgres env PGCONNECT_TIMEOUT=5 psql -w -X -q -v ON_ERROR_STOP=1 \
        -h "$DEV_PG_SOCKET_DIR" -p "$DEV_PG_PORT" -d postgres "$@"
}

# Set KEY=value in ./.env, keeping its other lines (the file is readable by its owner only).
dotenv_set() {
    local kept
    kept=$(mktemp .env.XXXXXX)
    if [ -f .env ]; then
        grep -v -E "^[[:space:]]*(export[[:space:]]+)?$1[[:space:]]*=" .env >"$kept" || true
    fi
    printf '%s=%s\n' "$1" "$2" >>"$kept"
    chmod 600 "$kept"
    mv "$kept" .env
}

# The password of $DEV_PG_ROLE in a DATABASE_URL or TEST_DATABASE_URL dev.sh wrote before.
known_password() {
    local url
    for url in "${DATABASE_URL:-}" "${TEST_DATABASE_URL:-}"; do
        case $url in
        "postgresql://$DEV_PG_ROLE:"*"@127.0.0.1:$DEV_PG_PORT/"*)
            url=${url#"postgresql://$DEV_PG_ROLE:"}
            echo "${url%%@*}"
            return 0
            ;;
        esac
    done
}

# Debian's stock server asks a password over TCP (scram-sha-256) and postgres has none: make a
# role with a random password and the database items, as the postgres OS user over the socket,
# and write the URLs not set yet (DATABASE_URL, TEST_DATABASE_URL) to .env.
provision_postgres() {
    if ! psql_peer -Atc 'SELECT 1' >/dev/null 2>&1; then
        echo "cannot log in as postgres on 127.0.0.1:$DEV_PG_PORT without a password, nor as the" >&2
        echo "postgres OS user over $DEV_PG_SOCKET_DIR: set DATABASE_URL (and TEST_DATABASE_URL)" >&2
        echo "to a URL with credentials, e.g. postgresql://user:password@127.0.0.1:5432/items" >&2
        return 1
    fi
    local password
    password=$(known_password)
    [ -n "$password" ] || password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    log "creating the PostgreSQL role $DEV_PG_ROLE and the database items (URLs in .env)"
    psql_peer >/dev/null <<SQL || return 1
SELECT 'CREATE ROLE $DEV_PG_ROLE' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DEV_PG_ROLE') \gexec
ALTER ROLE $DEV_PG_ROLE LOGIN CREATEDB PASSWORD '$password';
SELECT 'CREATE DATABASE items OWNER $DEV_PG_ROLE' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'items') \gexec
SQL
    local server="postgresql://$DEV_PG_ROLE:$password@127.0.0.1:$DEV_PG_PORT"
    if [ -z "${DATABASE_URL:-}" ]; then
        export DATABASE_URL="$server/items"
        dotenv_set DATABASE_URL "$DATABASE_URL"
    fi
    if [ -z "${TEST_DATABASE_URL:-}" ]; then
        export TEST_DATABASE_URL="$server/postgres"
        dotenv_set TEST_DATABASE_URL "$TEST_DATABASE_URL"
    fi
}

ensure_postgres() {
    # A given database URL ($1 names the variable: DATABASE_URL to serve, TEST_DATABASE_URL to
    # test) is used as it is; otherwise the local server.
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
        echo "PostgreSQL does not answer on 127.0.0.1:$DEV_PG_PORT. Install and start it" >&2
        echo "(sudo apt-get install postgresql), or set DATABASE_URL / TEST_DATABASE_URL." >&2
        exit 1
    fi
    # The defaults (api/settings.py, tests/database.py) connect as postgres without a password.
    if psql_tcp -U postgres -d postgres -Atc 'SELECT 1' >/dev/null 2>&1; then return; fi
    provision_postgres || exit 1
}

ensure_test_tools() {
    command -v wrk >/dev/null || { log "installing wrk (load generator)"; apt_install wrk; }
    [ -x /usr/sbin/pgbouncer ] || command -v pgbouncer >/dev/null \
        || { log "installing pgbouncer (the transaction-pooling test)"; apt_install pgbouncer; }
    [ -x /usr/sbin/haproxy ] || command -v haproxy >/dev/null \
        || { log "installing haproxy (the scale-out test)"; apt_install haproxy; }
    command -v pg_isready >/dev/null || apt_install postgresql-client
    command -v valgrind >/dev/null || { log "installing valgrind (instruction counts)"; apt_install valgrind; }
    # The browser test drives Debian's Chromium through Playwright (no browser download).
    [ -x /usr/bin/chromium ] || { log "installing chromium (the /docs browser test)"; apt_install chromium; }
    # The test that runs the README's walk-through calls the API as it does.
    { command -v curl >/dev/null && command -v jq >/dev/null; } \
        || { log "installing curl and jq (the README walk-through test)"; apt_install curl jq; }
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
    # The benchmarks make their databases on the test server (a URL without a query).
    if [ -z "${BENCH_PG_URL:-}" ] && [ -n "${TEST_DATABASE_URL:-}" ] && [[ $TEST_DATABASE_URL != *\?* ]]; then
        export BENCH_PG_URL="${TEST_DATABASE_URL%/*}"
    fi
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
    # One server: the count's harness works (the other servers take the same path, under
    # callgrind a minute and more each, which CI's 15 minutes cannot spare).
    log "instructions per GET by id under callgrind (on a database of its own)"
    .venv/bin/python -m benchmarks instructions --requests 20 --servers items-api
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
