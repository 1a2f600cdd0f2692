-- Purpose: How many more client connections the server accepts now: max_connections less those
--   reserved for superusers and those open. The benchmarks size their servers' pools to fit.
--   Not used by the service.
-- Parameters: none
-- Index: none (settings and pg_stat_activity)
-- Rows: one
SELECT
    current_setting('max_connections')::integer
    - current_setting('superuser_reserved_connections')::integer
    - (
        SELECT count(*)::integer
        FROM pg_stat_activity
        WHERE backend_type = 'client backend'
    ) AS room;
