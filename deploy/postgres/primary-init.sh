#!/bin/sh
# The primary's first start (docker-entrypoint-initdb.d: run once, on an empty volume, as the
# superuser): the service's role and database, the replication role, its pg_hba.conf entry and
# the replica's slot (docker compose --profile scale; docs/scaling.md).
set -eu
for name in APP_DB_PASSWORD REPLICATION_PASSWORD; do
    if [ -z "$(printenv "$name" || true)" ]; then
        echo "set $name (in the environment or .env) for docker compose --profile scale" >&2
        exit 1
    fi
done
# Values reach SQL as psql variables (:'name' quotes them), never pasted into a statement.
psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres \
    -v app_password="$APP_DB_PASSWORD" -v replication_password="$REPLICATION_PASSWORD" \
    -v slot="${REPLICATION_SLOT:-replica_1}" <<'SQL'
-- The service's role: no superuser; it owns its database, so its migrations can create the
-- tables and the (trusted) pg_trgm extension.
CREATE ROLE items WITH LOGIN PASSWORD :'app_password';
CREATE DATABASE items OWNER items;
-- What the service sets per session when it may (queries/pool.py): behind PgBouncer
-- (DB_SESSION_PARAMETERS=false) it sends none, so they are the role's. Roles replicate: the
-- standby has them too.
ALTER ROLE items SET statement_timeout = '5s';
ALTER ROLE items SET idle_in_transaction_session_timeout = '10s';
ALTER ROLE items SET jit = off;
ALTER ROLE items SET plan_cache_mode = 'force_generic_plan';
ALTER ROLE items SET random_page_cost = 1.1;
-- The standby's role: replication connections only (pg_hba.conf below).
CREATE ROLE replicator WITH LOGIN REPLICATION PASSWORD :'replication_password';
-- The standby streams from this slot: the primary keeps the WAL it has not received yet, up
-- to max_slot_wal_keep_size (docker-compose.yml), so a standby that was down catches up.
SELECT pg_create_physical_replication_slot(:'slot');
SQL
# Replication connections of the replicator role, from the compose network only.
echo "host replication replicator samenet scram-sha-256" >>"$PGDATA/pg_hba.conf"
