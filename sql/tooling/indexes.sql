-- Purpose: The indexes of the current schema and of the system catalogs (pg_catalog: a statement
--   may read a catalog row, such as items/estimate_count) and their tables: `sql check` proves that
--   each index a header names exists. Not used by the service.
-- Parameters: none
-- Index: none (catalog)
-- Rows: one per index
SELECT indexname AS index_name, tablename AS table_name
FROM pg_indexes
WHERE schemaname IN (current_schema(), 'pg_catalog')
ORDER BY indexname;
