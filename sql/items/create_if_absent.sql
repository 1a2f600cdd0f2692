-- Purpose: Create the item with the given id only if no item has it (PUT with
--   If-None-Match: *); no row comes back, and nothing changes, when the id exists or when the
--   owner has the most items allowed already (ITEMS_MAX_PER_USER).
-- Parameters:
--   $1 uuid: item id
--   $2 text: name
--   $3 text: description, or null
--   $4 text[]: tags
--   $5 jsonb: metadata (an object)
--   $6 uuid: owner id
--   $7 bigint: the most items the owner may have
-- Index: item_counts_pkey (the owner's count), items_pkey (conflict target)
-- Rows: zero or one
INSERT INTO items (id, name, description, tags, metadata, owner_id)
SELECT $1::uuid, $2::text, $3::text, $4::text[], $5::jsonb, $6::uuid
WHERE (
    SELECT coalesce(sum(c.items), 0) FROM item_counts AS c
    WHERE c.owner_id = $6
) < $7::bigint
ON CONFLICT (id) DO NOTHING
RETURNING id, owner_id, name, description, tags, metadata, created_at, updated_at;
