-- Purpose: One page of items carrying all of the given tags, newest first, optionally also
--   carrying any of a second tag list and filtered by metadata containment.
--   The GIN index alone finds the matching rows (a MATERIALIZED CTE); the window and cursor then
--   apply to those. Left in one WHERE, the sentinel window looks selective to the generic plan,
--   which then reads all of items_created_at_id.
-- Parameters:
--   $1 bigint: page size
--   $2 timestamptz: created strictly after, or -infinity
--   $3 timestamptz: created strictly before, or infinity
--   $4 timestamptz: cursor created_at, or infinity for the first page
--   $5 uuid: cursor id, or the greatest uuid for the first page
--   $6 text[]: tags, all of which must be present
--   $7 text[]: tags, any of which must be present, or null
--   $8 jsonb: an object the metadata must contain, or null
-- Index: items_tags_gin
-- Rows: up to $1
WITH matching AS MATERIALIZED (
    SELECT id, owner_id, name, description, tags, metadata, created_at, updated_at
    FROM items
    WHERE
        tags @> $6::text[]
        AND ($7::text[] IS NULL OR tags && $7)
        AND ($8::jsonb IS NULL OR metadata @> $8)
)

SELECT id, owner_id, name, description, tags, metadata, created_at, updated_at
FROM matching
WHERE
    created_at > $2
    AND created_at < $3
    AND (created_at, id) < ($4, $5)
ORDER BY created_at DESC, id DESC
LIMIT $1;
