-- Puts back sync_item_search() as 0009 made it, with ON CONFLICT DO NOTHING on every insert.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

-- For item_tags and item_words: adds the pairs of new rows, removes those of deleted rows, and
-- for updated rows removes and adds only the pairs that changed. name_words gets the words of
-- the added word pairs, sorted so that two writers adding the same new words take them in the
-- same order and never deadlock.
-- These statements have no parameters, so each connection plans them once, for the transition
-- table sizes of its first call, and keeps that plan. No plan shape here may depend on those
-- sizes: sets are compared with EXCEPT (hashed or sorted, never a nested loop over rows), and
-- pairs are deleted by ctid after one primary-key probe each (LATERAL ... LIMIT 1); a plain
-- DELETE ... USING first planned for a bulk statement would stay a hash join over all of
-- item_tags (80 ms) for every later single-row write.
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
            ON CONFLICT DO NOTHING
        ),

        words_added AS (
            INSERT INTO item_words (word, item_id)
            SELECT DISTINCT added.word, n.id
            FROM new_rows AS n
            CROSS JOIN LATERAL unnest(item_name_words(n.name)) AS added (word)
            ON CONFLICT DO NOTHING
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
        ) AS added
        ON CONFLICT DO NOTHING;
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
            ON CONFLICT DO NOTHING
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
