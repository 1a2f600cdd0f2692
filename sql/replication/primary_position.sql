-- Purpose: The primary's WAL insert position, its timeline and its cluster's system identifier:
--   read after a write has committed, for its answer's Consistency-Token, and polled to measure
--   each replica's lag (queries/replicas.py).
-- Parameters: none
-- Index: none (reads no table)
-- Rows: one
SELECT
    (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint AS insert_position,
    ('x' || substr(pg_walfile_name(pg_current_wal_insert_lsn()), 1, 8))::bit(32)::integer
        AS timeline,
    (SELECT s.system_identifier FROM pg_control_system() AS s) AS system_identifier;
