-- Purpose: A replica's state for the read routing (queries/replicas.py): whether it is a standby,
--   how far it has replayed the primary's WAL (NULL on a server that never was a standby), and
--   its cluster's system identifier.
-- Parameters: none
-- Index: none (reads no table)
-- Rows: one
SELECT
    pg_is_in_recovery() AS in_recovery,
    (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint AS replayed,
    (SELECT s.system_identifier FROM pg_control_system() AS s) AS system_identifier;
