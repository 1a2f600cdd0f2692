-- Purpose: Readiness probe: proves a pooled connection can run a statement.
-- Parameters: none
-- Index: none (reads no table)
-- Rows: one
SELECT 1 AS ready;
