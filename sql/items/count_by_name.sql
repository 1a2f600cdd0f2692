-- Purpose: How many items search_by_name finds for a search text of several words, with its
--   filters (`Prefer: count=exact`), counting at most $1: the caller passes its cap plus one and
--   answers "cap+" when it gets that many. The same matches: the items holding, for every word
--   of the text, one of its similar words (similar_name_words, migration 0014) in item_words
--   (index-only); only those are read from items, for the filters, until $1 pass. Like the
--   search, its cost is the similar words' frequency.
--   Planned for its values at every execution (queries.pool.fetch_planned_per_execution).
-- Parameters:
--   $1 bigint: the most items to count (the cap plus one)
--   $2 timestamptz: created strictly after, or -infinity
--   $3 timestamptz: created strictly before, or infinity
--   $4 text: the search text
--   $5 text[]: tags, any of which must be present, or null
--   $6 text[]: tags, all of which must be present, or null
--   $7 jsonb: an object the metadata must contain, or null
-- Index: item_words_pkey, items_pkey
-- Rows: one: the count, at most $1
WITH asked AS MATERIALIZED (
    SELECT DISTINCT given.word
    FROM unnest(item_name_words($4::text)) AS given (word)
),

similar_words AS MATERIALIZED (
    SELECT a.word AS asked, s.word
    FROM asked AS a
    CROSS JOIN LATERAL similar_name_words(a.word) AS s
),

matching AS MATERIALIZED (
    SELECT iw.item_id
    FROM similar_words AS w
    INNER JOIN item_words AS iw ON w.word = iw.word
    GROUP BY iw.item_id
    HAVING count(DISTINCT w.asked) = (SELECT count(*) FROM asked)
)

SELECT count(*) AS items
FROM (
    SELECT 1 AS one
    FROM matching AS m
    INNER JOIN items AS candidate ON m.item_id = candidate.id
    WHERE
        candidate.created_at > $2
        AND candidate.created_at < $3
        AND ($5::text[] IS NULL OR candidate.tags && $5)
        AND ($6::text[] IS NULL OR candidate.tags @> $6)
        AND ($7::jsonb IS NULL OR candidate.metadata @> $7)
    -- Any $1 matches: a count needs no order.
    LIMIT $1  -- noqa: AM09
) AS capped;
