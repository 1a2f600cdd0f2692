-- item_counts: how many items each user owns, so that a write can refuse the item past
-- ITEMS_MAX_PER_USER (api/handlers/items.py) by reading a few rows instead of counting the user's
-- items. A user's count is the sum of up to 32 rows (stripes): each write adds to the stripe of
-- its backend (pg_backend_pid() % 32), so concurrent writes of one user on different connections
-- do not wait for each other on one counter row until they commit.
-- A statement-level trigger keeps the counts with items: one call per statement (a bulk upsert
-- of 1,000 items costs one), counting only the rows actually inserted or deleted (the transition
-- table of an INSERT ... ON CONFLICT DO UPDATE holds the inserted rows only). Items without an
-- owner are not counted; a deleted user's counts go with the user, and TRUNCATE items
-- empties them.
-- The backfill runs in this migration's transaction, after CREATE TRIGGER, which holds off
-- writers until the commit: no write is counted twice or missed.
-- depends: 0019_bounded_metadata_numbers
SET lock_timeout = '5s';
SET statement_timeout = '10min';

CREATE TABLE item_counts (
    owner_id uuid NOT NULL,
    -- 0 to 31.
    -- squawk-ignore prefer-bigint-over-smallint
    stripe smallint NOT NULL,
    items bigint NOT NULL,
    CONSTRAINT item_counts_pkey PRIMARY KEY (owner_id, stripe),
    CONSTRAINT item_counts_owner_fk FOREIGN KEY (owner_id)
    REFERENCES users (id) ON DELETE CASCADE
);

COMMENT ON TABLE item_counts IS
'Items per owner, in stripes to be summed; kept by the trigger function count_items() only.';

CREATE FUNCTION count_items() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO item_counts AS c (owner_id, stripe, items)
        SELECT n.owner_id, pg_backend_pid() % 32, count(*)
        FROM new_rows AS n
        WHERE n.owner_id IS NOT NULL
        GROUP BY n.owner_id
        ORDER BY n.owner_id
        ON CONFLICT (owner_id, stripe) DO UPDATE SET items = c.items + excluded.items;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO item_counts AS c (owner_id, stripe, items)
        SELECT o.owner_id, pg_backend_pid() % 32, -count(*)
        FROM old_rows AS o
        WHERE o.owner_id IS NOT NULL
        GROUP BY o.owner_id
        ORDER BY o.owner_id
        ON CONFLICT (owner_id, stripe) DO UPDATE SET items = c.items + excluded.items;
    ELSIF EXISTS (SELECT FROM item_counts) THEN
        -- TRUNCATE items; skipped when the same statement emptied item_counts too, as a second
        -- TRUNCATE of a table the statement holds open is an error.
        TRUNCATE item_counts;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER items_count_inserts
AFTER INSERT ON items
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION count_items();

CREATE TRIGGER items_count_deletes
AFTER DELETE ON items
REFERENCING OLD TABLE AS old_rows
FOR EACH STATEMENT EXECUTE FUNCTION count_items();

CREATE TRIGGER items_count_truncate
AFTER TRUNCATE ON items
FOR EACH STATEMENT EXECUTE FUNCTION count_items();

INSERT INTO item_counts (owner_id, stripe, items)
SELECT items.owner_id, 0 AS stripe, count(*) AS items
FROM items
INNER JOIN users ON items.owner_id = users.id
GROUP BY items.owner_id;
