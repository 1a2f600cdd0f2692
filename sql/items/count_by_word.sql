-- Purpose: How many items search_by_word finds for a one-word search text, with its filters
--   (`Prefer: count=exact`), counting at most $1: the caller passes its cap plus one and answers
--   "cap+" when it gets that many or more. The same similar words (similar_name_words of the
--   folded word, migration 0014); for each, at most $1 of its item_words entries whose items pass
--   the filters, an item holding several of the words counted once: when no word has $1 such
--   items the count is exact, else it is $1 or more. The cost is at most $1 entries per similar
--   word (one to five, usually), never the table.
--   Planned for its values at every execution (queries.pool.fetch_planned_per_execution).
-- Parameters:
--   $1 bigint: the most items to count (the cap plus one)
--   $2 timestamptz: created strictly after, or -infinity
--   $3 timestamptz: created strictly before, or infinity
--   $4 text: the search word
--   $5 text[]: tags, any of which must be present, or null
--   $6 text[]: tags, all of which must be present, or null
--   $7 jsonb: an object the metadata must contain, or null
-- Index: item_words_pkey, items_pkey
-- Rows: one: the count, at most $1 times the similar words
WITH similar_words AS MATERIALIZED (
    SELECT s.word
    FROM similar_name_words(search_fold($4::text)) AS s
)

SELECT count(DISTINCT hit.id) AS items
FROM similar_words AS w
CROSS JOIN
    LATERAL (
        SELECT candidate.id
        FROM item_words AS iw
        INNER JOIN items AS candidate ON iw.item_id = candidate.id
        WHERE
            iw.word = w.word
            AND candidate.created_at > $2
            AND candidate.created_at < $3
            AND ($5::text[] IS NULL OR candidate.tags && $5)
            AND ($6::text[] IS NULL OR candidate.tags @> $6)
            AND ($7::jsonb IS NULL OR candidate.metadata @> $7)
        ORDER BY iw.item_id DESC
        LIMIT $1
    ) AS hit;
