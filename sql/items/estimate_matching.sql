-- Purpose: The planner's estimate of how many items carry any of the tags $3 and all of the tags
--   $4 within a creation window (`Prefer: count=estimated` with filters): not a query but its
--   plan, EXPLAIN of the filtered list's WHERE with these values, whose top node's "Plan Rows"
--   the caller reads. PostgreSQL plans a utility statement's query for the values it is given
--   at every execution, so this is what planning costs, and reads no row: the estimate comes
--   from the statistics of the last ANALYZE (pg_statistic: the tags' element frequencies, the
--   creation times' histogram) scaled to the table's size now. Metadata and search filters have
--   no statistics to estimate from: those lists are counted exactly instead.
-- Parameters:
--   $1 timestamptz: created strictly after, or -infinity
--   $2 timestamptz: created strictly before, or infinity
--   $3 text[]: tags, any of which must be present, or null
--   $4 text[]: tags, all of which must be present, or null
-- Index: none (plans only: reads the planner's statistics, no table)
-- Rows: one: the plan as JSON (EXPLAIN (FORMAT JSON))
EXPLAIN (FORMAT JSON)
SELECT 1 AS one
FROM items
WHERE
    created_at > $1
    AND created_at < $2
    AND ($3::text[] IS NULL OR tags && $3)
    AND ($4::text[] IS NULL OR tags @> $4);
