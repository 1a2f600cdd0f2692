-- Purpose: One page of items whose name has, for every word of a search text of several words, a
--   similar word (as search_by_word finds them: similar_name_words, migration 0014), best match
--   first, optionally also filtered by tags and metadata, after a keyset cursor. An item's score
--   is the mean over the search words of its best word's score for each. One-word searches use
--   search_by_word. The items holding each similar word come from item_words (index-only); an
--   item is kept when it holds one for every search word; only those are read from items, for
--   the filters, and only the page's in full. The cost is the similar words' frequency.
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
--   $6 text: the search text
--   $7 text[]: tags, any of which must be present, or null
--   $8 text[]: tags, all of which must be present, or null
--   $9 jsonb: an object the metadata must contain, or null
--   $10 text[]: the fields to answer, in the item's order, or null for the whole item
-- Index: item_words_pkey, items_pkey
-- Rows: up to $1: the page key (the score, and the id when $10 is set, else null: it is
--   read from the item's JSON) and the item as JSON: item_json (migration 0010), or
--   item_fields_json of $10 (migration 0024)
WITH asked AS MATERIALIZED (
    SELECT DISTINCT given.word
    FROM unnest(item_name_words($6::text)) AS given (word)
),

similar_words AS MATERIALIZED (
    SELECT a.word AS asked, s.word, s.score
    FROM asked AS a
    CROSS JOIN LATERAL similar_name_words(a.word) AS s
),

matching AS MATERIALIZED (
    SELECT per_word.item_id, avg(per_word.score)::real AS score
    FROM (
        SELECT iw.item_id, w.asked, max(w.score) AS score
        FROM similar_words AS w
        INNER JOIN item_words AS iw ON w.word = iw.word
        GROUP BY iw.item_id, w.asked
    ) AS per_word
    GROUP BY per_word.item_id
    HAVING count(*) = (SELECT count(*) FROM asked)
)

SELECT
    page.score,
    CASE WHEN $10::text[] IS NOT NULL THEN i.id END AS id,
    CASE WHEN $10::text[] IS NULL THEN item_json(i) ELSE item_fields_json(i, $10) END AS item
FROM (
    SELECT m.item_id, m.score
    FROM matching AS m
    INNER JOIN items AS candidate ON m.item_id = candidate.id
    WHERE
        (m.score, m.item_id) < ($4::real, $5)
        AND candidate.created_at > $2
        AND candidate.created_at < $3
        AND ($7::text[] IS NULL OR candidate.tags && $7)
        AND ($8::text[] IS NULL OR candidate.tags @> $8)
        AND ($9::jsonb IS NULL OR candidate.metadata @> $9)
    ORDER BY m.score DESC, m.item_id DESC
    LIMIT $1
) AS page
INNER JOIN items AS i ON page.item_id = i.id
ORDER BY page.score DESC, page.item_id DESC;
