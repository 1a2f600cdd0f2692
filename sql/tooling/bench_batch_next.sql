-- Purpose: The body the next bulk transaction of pgbench writes: the sequence's next value modulo
--   the number of bodies. Not used by the service.
-- Parameters:
--   $1 bigint: the number of bodies in bench_batches
-- Index: none
-- Rows: one
SELECT nextval('bench_batch_position') % $1::bigint AS batch;
