-- Purpose: The next bulk-upsert body pgbench's clients take, shared by all of them so that they
--   walk the bodies in one order. Not used by the service.
-- Parameters: none
-- Index: none
-- Rows: none
CREATE SEQUENCE IF NOT EXISTS bench_batch_position AS bigint MINVALUE 0;
