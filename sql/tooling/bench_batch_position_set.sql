-- Purpose: Make pgbench's next bulk-upsert body the one after those the last run wrote.
--   Not used by the service.
-- Parameters:
--   $1 bigint: the ordinal of the next body
-- Index: none
-- Rows: one, the ordinal set
SELECT setval('bench_batch_position', $1::bigint, FALSE) AS ordinal;
