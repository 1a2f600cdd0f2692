-- Purpose: Delete an item the caller may write (owner or admin).
-- Parameters:
--   $1 uuid: item id
--   $2 uuid: the caller's id
--   $3 boolean: true when the caller may write any item (admin)
-- Index: items_pkey
-- Rows: zero or one
DELETE FROM items
WHERE id = $1 AND ($3 OR owner_id = $2)
RETURNING id;
