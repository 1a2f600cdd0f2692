-- Purpose: One page of items whose metadata contains the given object, newest first, optionally
--   also carrying any of the given tags.
--   Planned for its values at every execution (queries.pool.fetch_planned_per_execution):
--   a rare value is read through the GIN index, a common one along items_created_at_id until the
--   page is full, which no single generic plan could do for both.
-- Parameters:
--   $1 bigint: page size
--   $2 timestamptz: created strictly after, or -infinity
--   $3 timestamptz: created strictly before, or infinity
--   $4 timestamptz: cursor created_at, or infinity for the first page
--   $5 uuid: cursor id, or the greatest uuid for the first page
--   $6 jsonb: an object the metadata must contain
--   $7 text[]: tags, any of which must be present, or null
-- Index: items_metadata_gin | items_created_at_id | items_tags_gin (chosen per execution, see
--   Purpose; a custom plan may combine the two GIN indexes)
-- Rows: up to $1, each the item as JSON (item_json, migration 0010)
SELECT item_json(i) AS item
FROM items AS i
WHERE
    metadata @> $6::jsonb
    AND ($7::text[] IS NULL OR tags && $7)
    AND created_at > $2
    AND created_at < $3
    AND (created_at, id) < ($4, $5)
ORDER BY created_at DESC, id DESC
LIMIT $1;
