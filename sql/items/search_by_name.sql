-- Purpose: One page of items whose name fuzzily matches a search text (pg_trgm word similarity),
--   best match first, optionally also filtered by tags and metadata, after a keyset cursor.
--   The trigram index alone finds the matching rows (a MATERIALIZED CTE); the window and cursor
--   then apply to those. Left in one WHERE, the sentinel window looks selective to the generic
--   plan, which then reads all of items_created_at_id.
-- Parameters:
--   $1 bigint: page size
--   $2 timestamptz: created strictly after, or -infinity
--   $3 timestamptz: created strictly before, or infinity
--   $4 real: cursor score, or 2 (above any score) for the first page
--   $5 uuid: cursor id, or the greatest uuid for the first page
--   $6 text: the search text
--   $7 text[]: tags, any of which must be present, or null
--   $8 text[]: tags, all of which must be present, or null
--   $9 jsonb: an object the metadata must contain, or null
-- Index: items_name_trgm
-- Rows: up to $1
WITH matching AS MATERIALIZED (
    SELECT
        id, owner_id, name, description, tags, metadata, created_at, updated_at,
        word_similarity($6::text, name) AS score
    FROM items
    WHERE
        $6::text <% name
        AND ($7::text[] IS NULL OR tags && $7)
        AND ($8::text[] IS NULL OR tags @> $8)
        AND ($9::jsonb IS NULL OR metadata @> $9)
)

SELECT id, owner_id, name, description, tags, metadata, created_at, updated_at, score
FROM matching
WHERE
    created_at > $2
    AND created_at < $3
    AND (score, id) < ($4::real, $5)
ORDER BY score DESC, id DESC
LIMIT $1;
