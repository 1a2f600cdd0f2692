-- Purpose: Create the item with the given id only if no item has it (PUT with
--   If-None-Match: *); no row comes back, and nothing changes, when the id exists.
-- Parameters:
--   $1 uuid: item id
--   $2 text: name
--   $3 text: description, or null
--   $4 text[]: tags
--   $5 jsonb: metadata (an object)
--   $6 uuid: owner id
-- Index: items_pkey (conflict target)
-- Rows: zero or one
INSERT INTO items (id, name, description, tags, metadata, owner_id)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (id) DO NOTHING
RETURNING id, owner_id, name, description, tags, metadata, created_at, updated_at;
