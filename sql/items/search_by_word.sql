-- Purpose: One page of items with a word in their name similar to a one-word search text, best
--   match first, optionally also filtered by tags and metadata, after a keyset cursor. The word
--   is folded as names are (search_fold: lower case, NFC, no combining accents) and compared with
--   the name_words dictionary (distinct words, not rows) by similar_name_words (migration 0014):
--   the word itself scores 1, a word it begins (3 letters or more) or is one typo from (5 letters
--   or more) 0.8-0.9, other trigram-similar words less. Then, for each similar word, item_words
--   is read in id order from the cursor on, keeping the items for which this word is the best
--   (the others come through their best word) and that pass the filters, until the page is full.
--   An item's score is its best word's. The cost is the page's (times the similar words), not the
--   words' frequency.
--   similar_name_words() is PL/pgSQL with a plan of its own, kept per connection, that reads
--   name_words_trgm and name_word_deletions_pkey (migration 0014; the plans in this file show it
--   as a Function Scan).
--   Planned for its values at every execution (queries.pool.fetch_planned_per_execution).
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
--   $10 text[]: the fields to answer, in the item's order, or null for the whole item
-- Index: item_words_pkey, items_pkey
-- Rows: up to $1: the page key (the score, and the id when $10 is set, else null: it is
--   read from the item's JSON) and the item as JSON: item_json (migration 0010), or
--   item_fields_json of $10 (migration 0024)
WITH similar_words AS MATERIALIZED (
    SELECT s.word, s.score
    FROM similar_name_words(search_fold($6::text)) AS s
)

SELECT
    page.score,
    CASE WHEN $10::text[] IS NOT NULL THEN i.id END AS id,
    CASE WHEN $10::text[] IS NULL THEN item_json(i) ELSE item_fields_json(i, $10) END AS item
FROM (
    SELECT DISTINCT hit.id, w.score
    FROM similar_words AS w
    CROSS JOIN
        LATERAL (
            SELECT candidate.id
            FROM item_words AS iw
            INNER JOIN items AS candidate ON iw.item_id = candidate.id
            WHERE
                iw.word = w.word
                -- The cursor, as a bound on item_id for this word's score.
                AND iw.item_id < CASE
                    WHEN w.score < $4::real THEN 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid
                    WHEN w.score = $4::real THEN $5::uuid
                    ELSE '00000000-0000-0000-0000-000000000000'::uuid
                END
                AND w.score = (
                    SELECT max(best.score)
                    FROM similar_words AS best
                    WHERE best.word = ANY(item_name_words(candidate.name))
                )
                AND candidate.created_at > $2
                AND candidate.created_at < $3
                AND ($7::text[] IS NULL OR candidate.tags && $7)
                AND ($8::text[] IS NULL OR candidate.tags @> $8)
                AND ($9::jsonb IS NULL OR candidate.metadata @> $9)
            ORDER BY iw.item_id DESC
            LIMIT $1
        ) AS hit
    ORDER BY w.score DESC, hit.id DESC
    LIMIT $1
) AS page
INNER JOIN items AS i ON page.id = i.id
ORDER BY page.score DESC, page.id DESC;
