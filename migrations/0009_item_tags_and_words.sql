-- item_tags: one row per (tag, item), in newest-first order per tag, so that a page of one tag
-- is an index-only range scan of item_tags_pkey followed by the page's primary-key reads, whatever
-- the tag's frequency. items.tags stays the source of truth (items_tags_gin serves tags_all and
-- tags combined with metadata).
-- item_words: one row per (word of the name, item), in id order per word, so that a one-word
-- search reads, for each similar word, only the page's worth of its items.
-- One trigger function keeps both, and name_words (0008), in step with items, per statement: a
-- bulk upsert of 1,000 items costs one call, not 1,000.
-- All three are filled in this migration's transaction: CREATE TRIGGER holds off writers until
-- the commit, so no write slips between the backfill's snapshot and the trigger (a few seconds
-- per 100k items).
-- depends: 0008_name_words
SET lock_timeout = '5s';
SET statement_timeout = '10min';

CREATE TABLE item_tags (
    tag text NOT NULL,
    created_at timestamptz NOT NULL,
    item_id uuid NOT NULL,
    CONSTRAINT item_tags_pkey PRIMARY KEY (tag, created_at, item_id)
);

COMMENT ON TABLE item_tags IS
'Derived from items.tags by the trigger function sync_item_search(); never written directly.';

CREATE TABLE item_words (
    word text NOT NULL,
    item_id uuid NOT NULL,
    CONSTRAINT item_words_pkey PRIMARY KEY (word, item_id)
);

COMMENT ON TABLE item_words IS
'Derived from items.name by the trigger function sync_item_search(); never written directly.';

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
CREATE FUNCTION sync_item_search() RETURNS trigger
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

-- Transition tables allow one event per trigger, hence one trigger per event.
CREATE TRIGGER items_sync_search_insert
AFTER INSERT ON items
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION sync_item_search();

CREATE TRIGGER items_sync_search_update
AFTER UPDATE ON items
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION sync_item_search();

CREATE TRIGGER items_sync_search_delete
AFTER DELETE ON items
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION sync_item_search();

CREATE TRIGGER items_sync_search_truncate
AFTER TRUNCATE ON items
FOR EACH STATEMENT EXECUTE FUNCTION sync_item_search();

INSERT INTO item_tags (tag, created_at, item_id)
SELECT DISTINCT current_tag.tag, i.created_at, i.id
FROM items AS i
CROSS JOIN LATERAL unnest(i.tags) AS current_tag (tag);

INSERT INTO item_words (word, item_id)
SELECT DISTINCT current_word.word, i.id
FROM items AS i
CROSS JOIN LATERAL unnest(item_name_words(i.name)) AS current_word (word);

INSERT INTO name_words (word)
SELECT DISTINCT w.word
FROM item_words AS w
ORDER BY w.word
ON CONFLICT (word) DO NOTHING;
