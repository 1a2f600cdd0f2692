-- Purpose: Whether pg_stat_statements is loaded (shared_preload_libraries) and whether the
--   extension is created in this database. Not used by the service.
-- Parameters: none
-- Index: none (catalog)
-- Rows: one
SELECT
    'pg_stat_statements' = ANY(
        string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ',')
    ) AS loaded,
    (
        SELECT count(*) > 0
        FROM pg_extension
        WHERE extname = 'pg_stat_statements'
    ) AS created;
