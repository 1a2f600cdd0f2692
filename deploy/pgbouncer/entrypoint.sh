#!/bin/sh
# PgBouncer's start in docker compose --profile scale: render pgbouncer.ini (the @NAME@ in it
# from PGBOUNCER_NAME) and the userlist (the password from the environment, never from a file
# in the repository) into a private folder, then run PgBouncer in the foreground.
set -eu
: "${PGBOUNCER_TARGET_HOST:?the PostgreSQL host}"
: "${PGBOUNCER_USER:?the database role}"
if [ -z "${PGBOUNCER_PASSWORD:-}" ]; then
    echo "set APP_DB_PASSWORD (in the environment or .env) for docker compose --profile scale" >&2
    exit 1
fi
PGBOUNCER_TARGET_PORT=${PGBOUNCER_TARGET_PORT:-5432}
PGBOUNCER_LISTEN_ADDR=${PGBOUNCER_LISTEN_ADDR:-0.0.0.0}
PGBOUNCER_LISTEN_PORT=${PGBOUNCER_LISTEN_PORT:-6432}
PGBOUNCER_RUN_DIR=${PGBOUNCER_RUN_DIR:-/tmp/pgbouncer}
umask 077
mkdir -p "$PGBOUNCER_RUN_DIR"
sed -e "s|@TARGET_HOST@|$PGBOUNCER_TARGET_HOST|g" \
    -e "s|@TARGET_PORT@|$PGBOUNCER_TARGET_PORT|g" \
    -e "s|@LISTEN_ADDR@|$PGBOUNCER_LISTEN_ADDR|g" \
    -e "s|@LISTEN_PORT@|$PGBOUNCER_LISTEN_PORT|g" \
    -e "s|@RUN_DIR@|$PGBOUNCER_RUN_DIR|g" \
    "$(dirname "$0")/pgbouncer.ini" >"$PGBOUNCER_RUN_DIR/pgbouncer.ini"
# userlist.txt: "user" "password", a double quote in either doubled.
printf '"%s" "%s"\n' "$(printf '%s' "$PGBOUNCER_USER" | sed 's/"/""/g')" \
    "$(printf '%s' "$PGBOUNCER_PASSWORD" | sed 's/"/""/g')" >"$PGBOUNCER_RUN_DIR/userlist.txt"
exec pgbouncer "$PGBOUNCER_RUN_DIR/pgbouncer.ini"
