-- Purpose: Forget the statistics pg_stat_statements gathered so far (`sql stats --reset`), e.g.
--   before a benchmark run. Not used by the service.
-- Parameters: none
-- Index: none (function call)
-- Rows: one
SELECT pg_stat_statements_reset() AS done;
