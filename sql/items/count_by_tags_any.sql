-- Purpose: How many items carry any of the given tags within a creation window
--   (`Prefer: count=exact`), counting at most $1: the caller passes its cap plus one and answers
--   "cap+" when it gets that many or more. The WHERE of list_by_tags_any without its keyset:
--   each tag's entries of item_tags in the window are an index-only range scan of at most $1
--   entries, and an item carrying several of the tags is counted once: when no tag has $1 items
--   the count is exact, else it is $1 or more. The cost is at most $1 entries per tag, never the
--   table.
-- Parameters:
--   $1 bigint: the most items to count (the cap plus one)
--   $2 timestamptz: created strictly after, or -infinity
--   $3 timestamptz: created strictly before, or infinity
--   $4 text[]: tags, any of which must be present
-- Index: item_tags_pkey
-- Rows: one: the count, at most $1 times the tags
WITH wanted AS (
    SELECT given.tag
    FROM unnest($4::text[]) AS given (tag)
)

SELECT count(DISTINCT hit.item_id) AS items
FROM wanted
CROSS JOIN
    LATERAL (
        SELECT t.item_id
        FROM item_tags AS t
        WHERE
            t.tag = wanted.tag
            AND t.created_at > $2
            AND t.created_at < $3
        ORDER BY t.created_at DESC, t.item_id DESC
        LIMIT $1
    ) AS hit;
