#!/bin/sh
# The streaming replica's start (docker compose --profile scale): on an empty volume, copy the
# primary with pg_basebackup -R (which writes standby.signal and primary_conninfo) through the
# slot the primary made for it; then start PostgreSQL as the image does, which finds a data
# folder and starts it as a standby.
set -eu
: "${PRIMARY_HOST:?the primary's host}"
PRIMARY_PORT=${PRIMARY_PORT:-5432}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${REPLICATION_PASSWORD:-}" ]; then
        echo "set REPLICATION_PASSWORD (in the environment or .env) for docker compose --profile scale" >&2
        exit 1
    fi
    mkdir -p "$PGDATA"
    chmod 700 "$PGDATA"
    as_postgres=""
    if [ "$(id -u)" = 0 ]; then
        chown postgres:postgres "$PGDATA"
        as_postgres="su-exec postgres"
        command -v su-exec >/dev/null || as_postgres="gosu postgres"
    fi
    until pg_isready -q -h "$PRIMARY_HOST" -p "$PRIMARY_PORT"; do sleep 1; done
    PGPASSWORD="$REPLICATION_PASSWORD" $as_postgres pg_basebackup -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" \
        -U replicator -D "$PGDATA" -R -X stream -S "${REPLICATION_SLOT:-replica_1}" -c fast -w
fi
exec docker-entrypoint.sh "$@"
