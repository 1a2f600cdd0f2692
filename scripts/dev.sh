#!/usr/bin/env bash
# One entry point for a fresh Debian/Ubuntu machine:
#   scripts/dev.sh serve   set up, create and migrate the database, run the API on :8000
#   scripts/dev.sh test    set up, then run every check CI runs (lint, types, SQL, tests, bench smoke)
set -euo pipefail

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

apt_updated=0
apt_install() {
    command -v apt-get >/dev/null || { echo "install these packages: $*" >&2; return 1; }
    if [ "$apt_updated" -eq 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_python() {
    if ! python3 -c 'import sys, venv; assert sys.version_info >= (3, 11)' 2>/dev/null; then
        log "installing Python 3.11+ with venv"
        apt_install python3 python3-venv python3-dev
    fi
    if [ ! -x .venv/bin/python ]; then
        log "creating .venv"
        python3 -m venv .venv
        .venv/bin/pip install -q --upgrade pip
    fi
    log "installing Python dependencies ($1)"
    .venv/bin/pip install -q -e ".[$1]"
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
    ensure_python "server"
    ensure_postgres DATABASE_URL
    exec .venv/bin/python -m api serve "$@"
    ;;
test)
    ensure_python "test,dev,bench"
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
*)
    echo "usage: scripts/dev.sh serve [--host H] [--port P] [--workers N] | scripts/dev.sh test" >&2
    exit 2
    ;;
esac
