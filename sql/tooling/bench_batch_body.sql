-- Purpose: One stored bulk-upsert body, put by pgbench's bulk script in place of the statement's
--   JSON parameter. Not used by the service.
-- Parameters:
--   $1 integer: its ordinal
-- Index: bench_batches_pkey
-- Rows: one
SELECT b.body
FROM bench_batches AS b
WHERE b.ordinal = $1::integer;
