-- Purpose: One page of items whose metadata contains the given object, newest first.
--   The GIN index alone finds the matching rows (a MATERIALIZED CTE); the window and cursor then
--   apply to those. Left in one WHERE, the sentinel window looks selective to the generic plan,
--   which then reads all of items_created_at_id.
-- Parameters:
--   $1 bigint: page size
--   $2 timestamptz: created strictly after, or -infinity
--   $3 timestamptz: created strictly before, or infinity
--   $4 timestamptz: cursor created_at, or infinity for the first page
--   $5 uuid: cursor id, or the greatest uuid for the first page
--   $6 jsonb: an object the metadata must contain
-- Index: items_metadata_gin
-- Rows: up to $1
WITH matching AS MATERIALIZED (
    SELECT id, owner_id, name, description, tags, metadata, created_at, updated_at
    FROM items
    WHERE
        metadata @> $6::jsonb
)

SELECT id, owner_id, name, description, tags, metadata, created_at, updated_at
FROM matching
WHERE
    created_at > $2
    AND created_at < $3
    AND (created_at, id) < ($4, $5)
ORDER BY created_at DESC, id DESC
LIMIT $1;
