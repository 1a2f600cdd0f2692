-- Purpose: The statements of the current database with the most total execution time, from
--   pg_stat_statements, for `python -m api sql stats`. Not used by the service.
-- Parameters:
--   $1 integer: how many statements
-- Index: none (pg_stat_statements is an in-memory view)
-- Rows: up to $1
SELECT
    s.query,
    s.calls,
    s.total_exec_time AS total_ms,
    s.mean_exec_time AS mean_ms,
    s.rows,
    s.shared_blks_hit + s.shared_blks_read AS blocks
FROM pg_stat_statements AS s
INNER JOIN pg_database AS d ON s.dbid = d.oid
WHERE d.datname = current_database()
ORDER BY s.total_exec_time DESC
LIMIT $1;
