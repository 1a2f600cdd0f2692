-- Purpose: Hold the bulk-upsert bodies for pgbench, which reads them by ordinal so that its
--   clients replay them in order, as wrk does, instead of picking files at random (a random pick
--   rewrites a set with the content it already has a third of the time, and an unchanged batch
--   costs the search trigger almost nothing). Not used by the service.
-- Parameters: none
-- Index: bench_batches_pkey (created here)
-- Rows: none
CREATE UNLOGGED TABLE IF NOT EXISTS bench_batches (
    ordinal integer NOT NULL,
    body text NOT NULL,
    CONSTRAINT bench_batches_pkey PRIMARY KEY (ordinal)
);
