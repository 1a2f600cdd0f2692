-- Purpose: The indexes of the current schema and their tables: `sql check` proves that each index a
--   header names exists. Not used by the service.
-- Parameters: none
-- Index: none (catalog)
-- Rows: one per index
SELECT indexname AS index_name, tablename AS table_name
FROM pg_indexes
WHERE schemaname = current_schema()
ORDER BY indexname;
