-- Purpose: Within the current transaction, plan every statement for its parameter values (a
--   custom plan) rather than let the prepared statement switch to its generic plan after five
--   executions. Run first in the transaction of queries.pool.fetch_planned_per_execution, for
--   the statements whose best plan depends on their values (sql/README.md, "Plan caching").
--   A setting, not a query: `sql check` has no plan of it to check.
-- Parameters: none
-- Index: none (reads no table)
-- Rows: none
SET LOCAL plan_cache_mode = force_custom_plan;
