-- item_tags: one row per (tag, item), in newest-first order per tag, so that a page of one tag
-- is an index-only range scan of item_tags_pkey followed by the page's primary-key reads, whatever
-- the tag's frequency. items.tags stays the source of truth (items_tags_gin serves tags_all and
-- tags combined with metadata).
-- One trigger function keeps item_tags and name_words (0008) in step with items, per statement:
-- a bulk upsert of 1,000 items costs one call, not 1,000.
-- Both are filled in this migration's transaction: CREATE TRIGGER holds off writers until the
-- commit, so no write slips between the backfill's snapshot and the trigger (about 1 s per 100k
-- items).
-- depends: 0009_items_name_words_index
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

-- item_tags: adds the (tag, created_at, id) pairs of new rows, removes those of deleted rows, and
-- for updated rows removes and adds only the pairs that changed. name_words: adds the words of new
-- names, sorted so that two writers adding the same new words take them in the same order and
-- never deadlock.
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
        INSERT INTO name_words (word)
        SELECT DISTINCT w.word
        FROM new_rows AS n
        CROSS JOIN LATERAL unnest(item_name_words(n.name)) AS w (word)
        ORDER BY w.word
        ON CONFLICT (word) DO NOTHING;
        INSERT INTO item_tags (tag, created_at, item_id)
        SELECT DISTINCT added.tag, n.created_at, n.id
        FROM new_rows AS n
        CROSS JOIN LATERAL unnest(n.tags) AS added (tag)
        ON CONFLICT DO NOTHING;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO name_words (word)
        SELECT fresh.word
        FROM (
            SELECT w.word
            FROM new_rows AS n
            CROSS JOIN LATERAL unnest(item_name_words(n.name)) AS w (word)
            EXCEPT
            SELECT w.word
            FROM old_rows AS o
            CROSS JOIN LATERAL unnest(item_name_words(o.name)) AS w (word)
        ) AS fresh
        ORDER BY fresh.word
        ON CONFLICT (word) DO NOTHING;
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
    ELSIF EXISTS (SELECT FROM item_tags) THEN
        -- TRUNCATE items; skipped when the same statement emptied item_tags too, as a second
        -- TRUNCATE of a table the statement holds open is an error.
        TRUNCATE item_tags;
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

INSERT INTO name_words (word)
SELECT DISTINCT current_word.word
FROM items AS i
CROSS JOIN LATERAL unnest(item_name_words(i.name)) AS current_word (word)
ORDER BY current_word.word;
