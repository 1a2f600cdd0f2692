-- Purpose: How many other client sessions of this database are still running a statement: the
--   benchmark waits for zero before the next measurement. Not used by the service.
-- Parameters: none
-- Index: none (pg_stat_activity is a view over shared memory)
-- Rows: one
SELECT count(*) AS busy
FROM pg_stat_activity
WHERE
    datname = current_database()
    AND state != 'idle'
    AND pid != pg_backend_pid()
    AND backend_type = 'client backend';
