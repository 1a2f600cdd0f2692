-- Purpose: The planner's estimate of how many items there are (`Prefer: count=estimated`), worked
--   out as the planner does: the rows per page of the last ANALYZE or VACUUM (pg_class.reltuples
--   and relpages) times the table's pages now. Null when the table was never analyzed or has no
--   pages in those statistics. Reads no row of items.
-- Parameters: none
-- Index: pg_class_oid_index (one row of the catalog pg_class)
-- Rows: one: the estimate, or null
SELECT
    CASE
        WHEN c.reltuples < 0 OR c.relpages = 0 THEN NULL
        ELSE round(
            c.reltuples / c.relpages
            * (pg_relation_size(c.oid) / current_setting('block_size')::bigint)
        )::bigint
    END AS items
FROM pg_class AS c
WHERE c.oid = 'items'::regclass;
