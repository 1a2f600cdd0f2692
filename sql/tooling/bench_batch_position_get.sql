-- Purpose: The ordinal of the next bulk-upsert body, after a pgbench run took some.
--   Not used by the service.
-- Parameters: none
-- Index: none
-- Rows: one
SELECT s.last_value + (CASE WHEN s.is_called THEN 1 ELSE 0 END) AS ordinal
FROM bench_batch_position AS s;
