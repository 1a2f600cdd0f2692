-- Purpose: Fetch one item by its id.
-- Parameters:
--   $1 uuid: the item's id
-- Index: items_pkey
-- Rows: zero or one
SELECT id, owner_id, name, description, tags, metadata, created_at, updated_at
FROM items
WHERE id = $1;
