-- Purpose: One page of the items a search finds (exactly the matches of search_by_word for one
--   word, of search_by_name for several: an item holding, for every search word, one of its
--   similar words, similar_name_words of migration 0014, and passing the filters) in the order of
--   a `sort` instead of relevance, after a keyset cursor. The matches come from item_words
--   (index-only), are read from items for the filters and the sort's fields, and the page is the
--   first of them after the cursor in the sort's order (a top-N sort): the cost is the number of
--   matches, as search_by_name's, whatever the page. Only the page's items are read in full.
--   The sort is given by its parts: name (ascending, descending or not sorted by it), then a time
--   or none, the id breaking ties in the last field's direction (queries.items.SORTS).
--   similar_name_words() is PL/pgSQL with a plan of its own, kept per connection, that reads
--   name_words_trgm and name_word_deletions_pkey (migration 0014; the plans in this file show it
--   as a Function Scan).
--   Planned for its values at every execution (queries.pool.fetch_planned_per_execution).
-- Parameters:
--   $1 bigint: page size
--   $2 timestamptz: created strictly after, or -infinity
--   $3 timestamptz: created strictly before, or infinity
--   $4 text: the search text, or its one word (as search_by_word takes it)
--   $5 boolean: $4 is one word, folded whole (search_by_word), not split (search_by_name)
--   $6 text[]: tags, any of which must be present, or null
--   $7 text[]: tags, all of which must be present, or null
--   $8 jsonb: an object the metadata must contain, or null
--   $9 integer: 1 to sort by name A to Z first, -1 Z to A, 0 not by name
--   $10 text: the time sorted by after the name (or alone): created_at, updated_at, or null
--   $11 integer: 1 when the last field of the sort and the id ascend, -1 when they descend
--   $12 text: cursor name, or null (the first page, or a sort without the name)
--   $13 timestamptz: cursor time, or null (the first page, or a sort without a time)
--   $14 uuid: cursor id, or null for the first page
--   $15 text[]: the fields to answer, in the item's order, or null for the whole item
-- Index: item_words_pkey, items_pkey
-- Rows: up to $1: the page key (the name and the sort's time, null without one; the id when $15
--   is set, else null: it is read from the item's JSON) and the item as JSON: item_json
--   (migration 0010), or item_fields_json of $15 (migration 0024)
WITH asked AS MATERIALIZED (
    SELECT DISTINCT given.word
    FROM
        unnest(
            CASE WHEN $5::boolean THEN ARRAY[search_fold($4::text)] ELSE item_name_words($4) END
        ) AS given (word)
),

similar_words AS MATERIALIZED (
    SELECT a.word AS asked, s.word
    FROM asked AS a
    CROSS JOIN LATERAL similar_name_words(a.word) AS s
),

matching AS MATERIALIZED (
    SELECT per_word.item_id
    FROM (
        SELECT DISTINCT
            iw.item_id,
            w.asked
        FROM similar_words AS w
        INNER JOIN item_words AS iw ON w.word = iw.word
    ) AS per_word
    GROUP BY per_word.item_id
    HAVING count(*) = (SELECT count(*) FROM asked)
),

keyed AS (
    SELECT
        candidate.id,
        candidate.name,
        CASE $10::text
            WHEN 'created_at' THEN candidate.created_at
            WHEN 'updated_at' THEN candidate.updated_at
        END AS sort_time
    FROM matching AS m
    INNER JOIN items AS candidate ON m.item_id = candidate.id
    WHERE
        candidate.created_at > $2
        AND candidate.created_at < $3
        AND ($6::text[] IS NULL OR candidate.tags && $6)
        AND ($7::text[] IS NULL OR candidate.tags @> $7)
        AND ($8::jsonb IS NULL OR candidate.metadata @> $8)
),

page AS (
    SELECT
        k.id,
        k.name,
        k.sort_time
    FROM keyed AS k
    WHERE
        -- After the cursor in the order below.
        $14::uuid IS NULL
        OR ($9::integer = 1 AND k.name > $12::text)
        OR ($9::integer = -1 AND k.name < $12::text)
        OR (
            ($9::integer = 0 OR k.name = $12::text)
            AND (
                ($11::integer = 1 AND k.sort_time > $13::timestamptz)
                OR ($11::integer = -1 AND k.sort_time < $13::timestamptz)
                OR (
                    k.sort_time IS NOT DISTINCT FROM $13::timestamptz
                    AND (
                        ($11::integer = 1 AND k.id > $14::uuid)
                        OR ($11::integer = -1 AND k.id < $14::uuid)
                    )
                )
            )
        )
    ORDER BY
        CASE WHEN $9::integer = 1 THEN k.name END ASC,
        CASE WHEN $9::integer = -1 THEN k.name END DESC,
        CASE WHEN $11::integer = 1 THEN k.sort_time END ASC,
        CASE WHEN $11::integer = -1 THEN k.sort_time END DESC,
        CASE WHEN $11::integer = 1 THEN k.id END ASC,
        CASE WHEN $11::integer = -1 THEN k.id END DESC
    LIMIT $1
)

SELECT
    p.name,
    p.sort_time,
    CASE WHEN $15::text[] IS NOT NULL THEN p.id END AS id,
    CASE WHEN $15::text[] IS NULL THEN item_json(i) ELSE item_fields_json(i, $15) END AS item
FROM page AS p
INNER JOIN items AS i ON p.id = i.id
ORDER BY
    CASE WHEN $9::integer = 1 THEN p.name END ASC,
    CASE WHEN $9::integer = -1 THEN p.name END DESC,
    CASE WHEN $11::integer = 1 THEN p.sort_time END ASC,
    CASE WHEN $11::integer = -1 THEN p.sort_time END DESC,
    CASE WHEN $11::integer = 1 THEN p.id END ASC,
    CASE WHEN $11::integer = -1 THEN p.id END DESC;
