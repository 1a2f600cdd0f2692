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
--   $8 text[]: the fields to answer, in the item's order, or null for the whole item
-- Index: items_metadata_gin | items_created_at_id | items_tags_gin (chosen per execution, see
--   Purpose; a custom plan may combine the two GIN indexes)
-- Rows: up to $1: the page key (created_at and id) when $8 is set, else nulls (the key
--   is read from the item's JSON), and the item as JSON: item_json (migration 0010), or
--   item_fields_json of $8 (migration 0024)
SELECT
    CASE WHEN $8::text[] IS NOT NULL THEN i.created_at END AS created_at,
    CASE WHEN $8::text[] IS NOT NULL THEN i.id END AS id,
    CASE WHEN $8::text[] IS NULL THEN item_json(i) ELSE item_fields_json(i, $8) END AS item
FROM items AS i
WHERE
    i.metadata @> $6::jsonb
    AND ($7::text[] IS NULL OR i.tags && $7)
    AND i.created_at > $2
    AND i.created_at < $3
    AND (i.created_at, i.id) < ($4, $5)
ORDER BY i.created_at DESC, i.id DESC
LIMIT $1;
