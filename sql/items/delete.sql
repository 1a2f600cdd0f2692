-- Purpose: Delete an item the caller may write (owner or admin), only while it still carries a
--   version the client's precondition accepts (If-Match).
-- Parameters:
--   $1 uuid: item id
--   $2 uuid: the caller's id
--   $3 boolean: true when the caller may write any item (admin)
--   $4 timestamptz[]: the versions (updated_at) If-Match accepts, or null for any
-- Index: items_pkey
-- Rows: zero or one
DELETE FROM items
WHERE
    id = $1
    AND ($3 OR owner_id = $2)
    AND ($4::timestamptz[] IS NULL OR updated_at = ANY($4))
RETURNING id;
