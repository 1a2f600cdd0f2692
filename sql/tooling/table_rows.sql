-- Purpose: The planner's row estimate of each table in the current schema: `sql check` calls a
--   table large, and refuses sequential scans of it, from these numbers. Not used by the service.
-- Parameters: none
-- Index: none (catalog)
-- Rows: one per table
SELECT c.relname AS table_name, greatest(c.reltuples, 0)::bigint AS estimated_rows
FROM pg_class AS c
WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace
ORDER BY c.relname;
