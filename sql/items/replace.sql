-- Purpose: Replace all fields of an existing item, only while it still carries the version the
--   client saw (If-Match) and the caller may write it (owner or admin).
-- Parameters:
--   $1 uuid: item id
--   $2 text: name
--   $3 text: description, or null
--   $4 text[]: tags
--   $5 jsonb: metadata (an object)
--   $6 timestamptz[]: the versions (updated_at) If-Match accepts, or null for any
--   $7 uuid: the caller's id
--   $8 boolean: true when the caller may write any item (admin)
-- Index: items_pkey
-- Rows: zero or one
UPDATE items
SET name = $2, description = $3, tags = $4, metadata = $5
WHERE
    id = $1
    AND ($6::timestamptz[] IS NULL OR updated_at = ANY($6))
    AND ($8 OR owner_id = $7)
RETURNING id, owner_id, name, description, tags, metadata, created_at, updated_at;
