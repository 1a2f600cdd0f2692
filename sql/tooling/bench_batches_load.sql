-- Purpose: Store the bulk-upsert bodies pgbench replays, replacing those of an earlier run.
--   Not used by the service.
-- Parameters:
--   $1 integer[]: ordinals, 0 to n - 1
--   $2 text[]: the JSON bodies, one per ordinal
-- Index: bench_batches_pkey (conflict target)
-- Rows: none
INSERT INTO bench_batches (ordinal, body)
SELECT b.ordinal, b.body
FROM unnest($1::integer[], $2::text[]) AS b (ordinal, body)
ON CONFLICT (ordinal) DO UPDATE
    SET body = excluded.body;
