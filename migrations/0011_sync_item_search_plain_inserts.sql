-- sync_item_search() adds its item_tags and item_words pairs with plain INSERTs instead of
-- INSERT ... ON CONFLICT DO NOTHING. A pair it adds cannot exist already: it is a DISTINCT pair
-- of a new id, or a pair of the updated row that its old version did not have, and writers of
-- one item wait for each other on the item's row lock. The ON CONFLICT clause only cost time:
-- each row went through a speculative insertion (a conflict probe of the primary key, then the
-- insertion and its confirmation, in WAL too). On a 1,000-item bulk upsert that changes every
-- item's name and tags (about 2,500 tag pairs and 2,500 word pairs out, as many in), in four
-- alternating runs of 40 batches on fresh copies of the benchmark database, the backend's CPU
-- time per batch averaged 130 ms before and 111 ms after, lower in every pair of runs.
-- Should the tables ever drift from items, a write now fails on item_tags_pkey or
-- item_words_pkey instead of hiding it; emptying them and running 0009's backfill rebuilds them.
-- depends: 0010_item_json
SET lock_timeout = '5s';
SET statement_timeout = '60s';

-- For item_tags and item_words: adds the pairs of new rows, removes those of deleted rows, and for
-- updated rows removes and adds only the pairs that changed. The pairs it adds are new by
-- construction (DISTINCT pairs of a new id; EXCEPT against the old row's pairs), so they are plain
-- inserts: a conflict would mean the tables drifted from items, and fails the write. name_words
-- gets the words of the added word pairs, sorted so that two writers adding the same new words take
-- them in the same order and never deadlock. These statements have no parameters, so each
-- connection plans them once, for the transition table sizes of its first call, and keeps that
-- plan. No plan shape here may depend on those sizes: sets are compared with EXCEPT (hashed or
-- sorted, never a nested loop over rows), and pairs are deleted by ctid after one primary-key probe
-- each (LATERAL ... LIMIT 1); a plain DELETE ... USING first planned for a bulk statement would
-- stay a hash join over all of item_tags (80 ms) for every later single-row write.
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
