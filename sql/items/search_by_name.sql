-- Purpose: One page of items whose name fuzzily matches a search text of several words (pg_trgm
--   word similarity of the whole text against the name), best match first, optionally also
--   filtered by tags and metadata, after a keyset cursor. One-word searches use search_by_word.
--   The trigram index alone finds the matching rows (a MATERIALIZED CTE of keys and scores);
--   the window and cursor then apply to those, and only the page's rows are read in full. Left
--   in one WHERE, the sentinel window looks selective to the generic plan, which then reads all
--   of items_created_at_id.
--   Planned for its values at every execution (queries.pool.fetch_planned_per_execution).
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
-- Index: items_name_trgm, items_pkey
-- Rows: up to $1: the score and the item as JSON (item_json, migration 0010)
WITH matching AS MATERIALIZED (
    SELECT id, created_at, word_similarity($6::text, name) AS score
    FROM items
    WHERE
        $6::text <% name
        AND ($7::text[] IS NULL OR tags && $7)
        AND ($8::text[] IS NULL OR tags @> $8)
        AND ($9::jsonb IS NULL OR metadata @> $9)
)

SELECT page.score, item_json(i) AS item
FROM (
    SELECT id, score
    FROM matching
    WHERE
        created_at > $2
        AND created_at < $3
        AND (score, id) < ($4::real, $5)
    ORDER BY score DESC, id DESC
    LIMIT $1
) AS page
INNER JOIN items AS i ON page.id = i.id
ORDER BY page.score DESC, page.id DESC;
