-- Purpose: One page of items carrying all of the given tags, newest first, optionally also
--   carrying any of a second tag list and filtered by metadata containment.
--   Planned for its values at every execution (queries.pool.fetch_planned_per_execution):
--   a rare value is read through the GIN index, a common one along items_created_at_id until the
--   page is full, which no single generic plan could do for both.
-- Parameters:
--   $1 bigint: page size
--   $2 timestamptz: created strictly after, or -infinity
--   $3 timestamptz: created strictly before, or infinity
--   $4 timestamptz: cursor created_at, or infinity for the first page
--   $5 uuid: cursor id, or the greatest uuid for the first page
--   $6 text[]: tags, all of which must be present
--   $7 text[]: tags, any of which must be present, or null
--   $8 jsonb: an object the metadata must contain, or null
-- Index: items_tags_gin | items_created_at_id (chosen per execution, see Purpose)
-- Rows: up to $1, each the item as JSON (item_json, migration 0010)
SELECT item_json(i) AS item
FROM items AS i
WHERE
    tags @> $6::text[]
    AND ($7::text[] IS NULL OR tags && $7)
    AND ($8::jsonb IS NULL OR metadata @> $8)
    AND created_at > $2
    AND created_at < $3
    AND (created_at, id) < ($4, $5)
ORDER BY created_at DESC, id DESC
LIMIT $1;
