-- Purpose: Create the pg_stat_statements extension in this database (`sql stats
--   --create-extension`); the library must already be loaded. Not used by the service.
-- Parameters: none
-- Index: none (DDL)
-- Rows: none
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
