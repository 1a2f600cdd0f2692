-- Purpose: Create the item with the given id, or replace all its fields when it exists and the
--   caller may write it (owner or admin). The last column tells whether a row was inserted.
--   No row comes back when the item exists and the caller may not write it, or when it does not
--   exist and the caller has the most items allowed already (ITEMS_MAX_PER_USER).
-- Parameters:
--   $1 uuid: item id
--   $2 text: name
--   $3 text: description, or null
--   $4 text[]: tags
--   $5 jsonb: metadata (an object)
--   $6 uuid: the caller's id, owner of a new item
--   $7 boolean: true when the caller may write any item (admin)
--   $8 bigint: the most items the caller may have
-- Index: item_counts_pkey (the caller's count), items_pkey (conflict target, existence)
-- Rows: zero or one
INSERT INTO items AS i (id, name, description, tags, metadata, owner_id)
SELECT $1::uuid, $2::text, $3::text, $4::text[], $5::jsonb, $6::uuid
WHERE
    (
        SELECT coalesce(sum(c.items), 0) FROM item_counts AS c
        WHERE c.owner_id = $6
    ) < $8::bigint
    OR EXISTS (
        SELECT FROM items AS present
        WHERE present.id = $1
    )
ON CONFLICT (id) DO UPDATE
    SET
        name = excluded.name,
        description = excluded.description,
        tags = excluded.tags,
        metadata = excluded.metadata
    WHERE $7 OR i.owner_id = $6
RETURNING
    i.id,
    i.owner_id,
    i.name,
    i.description,
    i.tags,
    i.metadata,
    i.created_at,
    i.updated_at,
    (i.xmax = 0) AS created;
