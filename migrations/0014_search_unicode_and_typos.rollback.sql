-- Back to 0011's search: item_name_words() without folding, sync_item_search() without
-- name_word_deletions, and item_words and name_words rebuilt with them. Text that 0014
-- normalized to NFC stays so (canonically equivalent: nothing a reader sees changes back).
-- squawk-ignore-file ban-drop-table, ban-drop-function
SET lock_timeout = '5s';
SET statement_timeout = '10min';

CREATE OR REPLACE FUNCTION item_name_words(name text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT array_remove(regexp_split_to_array(lower(name), '[^[:alnum:]]+'), '')
$$;

-- sync_item_search() as 0011 made it.
CREATE OR REPLACE FUNCTION sync_item_search() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- One statement (data-modifying CTEs) instead of three: the common single-row create
        -- pays one executor start instead of three.
        WITH tags_added AS (
            INSERT INTO item_tags (tag, created_at, item_id)
            SELECT DISTINCT added.tag, n.created_at, n.id
            FROM new_rows AS n
            CROSS JOIN LATERAL unnest(n.tags) AS added (tag)
        ),

        words_added AS (
            INSERT INTO item_words (word, item_id)
            SELECT DISTINCT added.word, n.id
            FROM new_rows AS n
            CROSS JOIN LATERAL unnest(item_name_words(n.name)) AS added (word)
            RETURNING word
        )

        INSERT INTO name_words (word)
        SELECT DISTINCT words_added.word
        FROM words_added
        ORDER BY words_added.word
        ON CONFLICT (word) DO NOTHING;
    ELSIF TG_OP = 'UPDATE' THEN
        DELETE FROM item_tags AS t
        WHERE t.ctid = ANY(ARRAY(
            SELECT found.ctid
            FROM (
                SELECT gone.tag, o.created_at, o.id
                FROM old_rows AS o
                CROSS JOIN LATERAL unnest(o.tags) AS gone (tag)
                EXCEPT
                SELECT kept.tag, n.created_at, n.id
                FROM new_rows AS n
                CROSS JOIN LATERAL unnest(n.tags) AS kept (tag)
            ) AS removed
            CROSS JOIN LATERAL (
                SELECT pair.ctid
                FROM item_tags AS pair
                WHERE
                    pair.tag = removed.tag
                    AND pair.created_at = removed.created_at
                    AND pair.item_id = removed.id
                LIMIT 1
            ) AS found
        ));
        INSERT INTO item_tags (tag, created_at, item_id)
        SELECT added.tag, added.created_at, added.id
        FROM (
            SELECT fresh.tag, n.created_at, n.id
            FROM new_rows AS n
            CROSS JOIN LATERAL unnest(n.tags) AS fresh (tag)
            EXCEPT
            SELECT kept.tag, o.created_at, o.id
            FROM old_rows AS o
            CROSS JOIN LATERAL unnest(o.tags) AS kept (tag)
        ) AS added;
        DELETE FROM item_words AS t
        WHERE t.ctid = ANY(ARRAY(
            SELECT found.ctid
            FROM (
                SELECT gone.word, o.id
                FROM old_rows AS o
                CROSS JOIN LATERAL unnest(item_name_words(o.name)) AS gone (word)
                EXCEPT
                SELECT kept.word, n.id
                FROM new_rows AS n
                CROSS JOIN LATERAL unnest(item_name_words(n.name)) AS kept (word)
            ) AS removed
            CROSS JOIN LATERAL (
                SELECT pair.ctid
                FROM item_words AS pair
                WHERE pair.word = removed.word AND pair.item_id = removed.id
                LIMIT 1
            ) AS found
        ));
        WITH added AS (
            INSERT INTO item_words (word, item_id)
            SELECT fresh.word, fresh.id
            FROM (
                SELECT fresh.word, n.id
                FROM new_rows AS n
                CROSS JOIN LATERAL unnest(item_name_words(n.name)) AS fresh (word)
                EXCEPT
                SELECT kept.word, o.id
                FROM old_rows AS o
                CROSS JOIN LATERAL unnest(item_name_words(o.name)) AS kept (word)
            ) AS fresh
            RETURNING word
        )

        INSERT INTO name_words (word)
        SELECT DISTINCT added.word
        FROM added
        ORDER BY added.word
        ON CONFLICT (word) DO NOTHING;
    ELSIF TG_OP = 'DELETE' THEN
        DELETE FROM item_tags AS t
        WHERE t.ctid = ANY(ARRAY(
            SELECT found.ctid
            FROM old_rows AS o
            CROSS JOIN LATERAL unnest(o.tags) AS gone (tag)
            CROSS JOIN LATERAL (
                SELECT pair.ctid
                FROM item_tags AS pair
                WHERE
                    pair.tag = gone.tag
                    AND pair.created_at = o.created_at
                    AND pair.item_id = o.id
                LIMIT 1
            ) AS found
        ));
        DELETE FROM item_words AS t
        WHERE t.ctid = ANY(ARRAY(
            SELECT found.ctid
            FROM old_rows AS o
            CROSS JOIN LATERAL unnest(item_name_words(o.name)) AS gone (word)
            CROSS JOIN LATERAL (
                SELECT pair.ctid
                FROM item_words AS pair
                WHERE pair.word = gone.word AND pair.item_id = o.id
                LIMIT 1
            ) AS found
        ));
    ELSIF EXISTS (SELECT FROM item_tags) OR EXISTS (SELECT FROM item_words) THEN
        -- TRUNCATE items; skipped when the same statement emptied these tables too, as a second
        -- TRUNCATE of a table the statement holds open is an error.
        TRUNCATE item_tags, item_words;
    END IF;
    RETURN NULL;
END;
$$;

DROP FUNCTION IF EXISTS similar_name_words(text);
DROP FUNCTION IF EXISTS one_substitution_or_swap(text, text);
DROP FUNCTION IF EXISTS word_deletions(text);
DROP FUNCTION IF EXISTS search_fold(text);
DROP TABLE IF EXISTS name_word_deletions;

ALTER INDEX name_words_trgm RESET (fastupdate);

TRUNCATE item_words, name_words;

INSERT INTO item_words (word, item_id)
SELECT DISTINCT current_word.word, i.id
FROM items AS i
CROSS JOIN LATERAL unnest(item_name_words(i.name)) AS current_word (word);

INSERT INTO name_words (word)
SELECT DISTINCT w.word
FROM item_words AS w
ORDER BY w.word;
