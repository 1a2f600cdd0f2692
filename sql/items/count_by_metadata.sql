-- Purpose: How many items' metadata contains the given object within a creation window,
--   optionally also carrying any of the given tags (`Prefer: count=exact`), counting at most $1:
--   the caller passes its cap plus one and answers "cap+" when it gets that many. The WHERE and
--   the order of list_by_metadata without its keyset, planned as it is, for its values at every
--   execution (queries.pool.fetch_planned_per_execution): a rare value is read through the GIN
--   index (at most its matches), a common one along items_created_at_id until $1 rows match.
-- Parameters:
--   $1 bigint: the most items to count (the cap plus one)
--   $2 timestamptz: created strictly after, or -infinity
--   $3 timestamptz: created strictly before, or infinity
--   $4 jsonb: an object the metadata must contain
--   $5 text[]: tags, any of which must be present, or null
-- Index: items_metadata_gin | items_created_at_id | items_tags_gin (chosen per execution, see
--   Purpose; a custom plan may combine the two GIN indexes)
-- Rows: one: the count, at most $1
SELECT count(*) AS items
FROM (
    SELECT 1 AS one
    FROM items
    WHERE
        metadata @> $4::jsonb
        AND ($5::text[] IS NULL OR tags && $5)
        AND created_at > $2
        AND created_at < $3
    ORDER BY created_at DESC, id DESC
    LIMIT $1
) AS capped;
