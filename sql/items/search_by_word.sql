-- Purpose: One page of items with a word in their name similar to a one-word search text, best
--   match first, optionally also filtered by tags and metadata, after a keyset cursor. An item's
--   score is word_similarity(search text, its best-matching name word), what search_by_name
--   computes for the whole name when the search text is one word. The text is compared with the
--   name_words dictionary (distinct words, not rows), the items holding the similar words come
--   from the exact items_name_words index with no name to recheck, and only the page's rows are
--   then read in full. The window applies to the matches, as in search_by_name, so that the
--   generic plan too is driven by the words.
-- Parameters:
--   $1 bigint: page size
--   $2 timestamptz: created strictly after, or -infinity
--   $3 timestamptz: created strictly before, or infinity
--   $4 real: cursor score, or 2 (above any score) for the first page
--   $5 uuid: cursor id, or the greatest uuid for the first page
--   $6 text: the search word
--   $7 text[]: tags, any of which must be present, or null
--   $8 text[]: tags, all of which must be present, or null
--   $9 jsonb: an object the metadata must contain, or null
-- Index: name_words_trgm, items_name_words, items_pkey
-- Rows: up to $1
WITH similar_words AS MATERIALIZED (
    SELECT word, word_similarity($6::text, word) AS score
    FROM name_words
    WHERE $6::text <% word
),

matching AS MATERIALIZED (
    SELECT holder.id, holder.created_at, max(w.score) AS score
    FROM similar_words AS w
    CROSS JOIN
        LATERAL (
            SELECT i.id, i.created_at
            FROM items AS i
            WHERE
                item_name_words(i.name) && ARRAY[w.word]
                AND ($7::text[] IS NULL OR i.tags && $7)
                AND ($8::text[] IS NULL OR i.tags @> $8)
                AND ($9::jsonb IS NULL OR i.metadata @> $9)
            -- Keeps the subquery a per-word index probe: flattened into a join, the generic plan
            -- would rather scan every item once against the words.
            OFFSET 0
        ) AS holder
    GROUP BY holder.id, holder.created_at
)

SELECT
    i.id, i.owner_id, i.name, i.description, i.tags, i.metadata, i.created_at, i.updated_at,
    page.score
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
