-- Purpose: Create or replace many items in one statement. Rows that exist and belong to someone
--   else are left alone (and not returned) unless the caller is admin; the caller then rolls back.
--   Rows are written in id order, so two batches that share ids wait for each other instead of
--   deadlocking (each would otherwise lock rows in its own input order).
-- Parameters:
--   $1 jsonb: an array of {id, name, description, tags, metadata} objects, ids set and distinct
--   $2 uuid: the caller's id, owner of new items
--   $3 boolean: true when the caller may write any item (admin)
-- Index: items_pkey (conflict target)
-- Rows: one per input item that was written
INSERT INTO items AS i (id, name, description, tags, metadata, owner_id)
SELECT b.id, b.name, b.description, b.tags, b.metadata, $2 AS owner_id
FROM
    jsonb_to_recordset($1::jsonb)
        AS b (id uuid, name text, description text, tags text[], metadata jsonb)
ORDER BY b.id
ON CONFLICT (id) DO UPDATE
    SET
        name = excluded.name,
        description = excluded.description,
        tags = excluded.tags,
        metadata = excluded.metadata
    WHERE $3 OR i.owner_id = $2
RETURNING i.id, (i.xmax = 0) AS created;
