-- Purpose: Write an import (the temporary table item_import, session/create_item_import) into
--   items in one statement, as upsert_batch writes a batch: created when the id is new, replaced
--   when the caller owns the item (or is admin). An item that would not change is left alone
--   (its updated_at too), so that importing an export again changes nothing. Rows are written in
--   id order, so concurrent writes that share ids wait for each other instead of deadlocking.
--   The caller checks ownership first (items/import_refused); the same id twice in the import is
--   PostgreSQL's cardinality_violation (items/import_duplicates then names the lines).
-- Parameters:
--   $1 uuid: the caller's id, owner of new items
--   $2 boolean: true when the caller may write any item (admin)
-- Index: items_pkey (conflict target)
-- Rows: one: how many items were created, and how many replaced
WITH written AS (
    INSERT INTO items AS i (id, name, description, tags, metadata, owner_id)
    SELECT b.id, b.name, b.description, b.tags, b.metadata, $1 AS owner_id
    FROM item_import AS b
    ORDER BY b.id
    ON CONFLICT (id) DO UPDATE
        SET
            name = excluded.name,
            description = excluded.description,
            tags = excluded.tags,
            metadata = excluded.metadata
        WHERE
        ($2 OR i.owner_id = $1)
        AND (i.name, i.description, i.tags, i.metadata)
        IS DISTINCT FROM
        (excluded.name, excluded.description, excluded.tags, excluded.metadata)
    RETURNING (i.xmax = 0) AS created
)

SELECT
    count(*) FILTER (WHERE w.created) AS created,
    count(*) FILTER (WHERE NOT w.created) AS updated
FROM written AS w;
