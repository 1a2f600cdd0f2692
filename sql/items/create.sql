-- Purpose: Insert a new item with a generated id and return it, unless its owner has the most
--   items allowed already (ITEMS_MAX_PER_USER): then no row comes back and nothing changes.
-- Parameters:
--   $1 text: name
--   $2 text: description, or null
--   $3 text[]: tags
--   $4 jsonb: metadata (an object)
--   $5 uuid: owner id
--   $6 bigint: the most items the owner may have
-- Index: item_counts_pkey (the owner's count), items_pkey (uniqueness of the generated id)
-- Rows: zero or one
INSERT INTO items (name, description, tags, metadata, owner_id)
SELECT $1::text, $2::text, $3::text[], $4::jsonb, $5::uuid
WHERE (
    SELECT coalesce(sum(c.items), 0) FROM item_counts AS c
    WHERE c.owner_id = $5
) < $6::bigint
RETURNING id, owner_id, name, description, tags, metadata, created_at, updated_at;
