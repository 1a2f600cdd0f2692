-- Purpose: One page of items whose name fuzzily matches a search text (pg_trgm word similarity),
--   best match first, optionally also filtered by tags and metadata, after a keyset cursor.
-- Parameters:
--   $1 integer: page size
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
SELECT
    id,
    owner_id,
    name,
    description,
    tags,
    metadata,
    created_at,
    updated_at,
    word_similarity($6::text, name) AS score
FROM items
WHERE
    $6::text <% name
    AND ($7::text [] IS NULL OR tags && $7)
    AND ($8::text [] IS NULL OR tags @> $8)
    AND ($9::jsonb IS NULL OR metadata @> $9)
    AND created_at > $2
    AND created_at < $3
    AND (word_similarity($6::text, name), id) < ($4::real, $5)
ORDER BY score DESC, id DESC
LIMIT $1;
