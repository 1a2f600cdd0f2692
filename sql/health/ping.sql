-- Purpose: Readiness probe: proves that PostgreSQL runs a statement on the probe's own
--   connection (outside the pool, so a busy pool does not make it fail).
-- Parameters: none
-- Index: none (reads no table)
-- Rows: one
SELECT 1 AS ready;
