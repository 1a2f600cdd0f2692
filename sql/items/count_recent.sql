-- Purpose: How many items were created within a window (`Prefer: count=exact`), counting at most
--   $3 of them: the caller passes its cap plus one and answers "cap+" when it gets that many, so
--   the count costs at most cap+1 index entries, never the table. The inner ORDER BY (the index's
--   order) keeps it on the index: counting a prefix of it stops at $3, where a sequential scan
--   may read the whole table's pages for as many rows.
-- Parameters:
--   $1 timestamptz: created strictly after, or -infinity
--   $2 timestamptz: created strictly before, or infinity
--   $3 bigint: the most rows to count (the cap plus one)
-- Index: items_created_at_id
-- Rows: one: the count, at most $3
SELECT count(*) AS items
FROM (
    SELECT 1 AS one
    FROM items
    WHERE created_at > $1 AND created_at < $2
    ORDER BY created_at DESC, id DESC
    LIMIT $3
) AS capped;
