-- Purpose: Insert a new item with a generated id and return it.
-- Parameters:
--   $1 text: name
--   $2 text: description, or null
--   $3 text[]: tags
--   $4 jsonb: metadata (an object)
--   $5 uuid: owner id
-- Index: items_pkey (uniqueness of the generated id)
-- Rows: one
INSERT INTO items (name, description, tags, metadata, owner_id)
VALUES ($1, $2, $3, $4, $5)
RETURNING id, owner_id, name, description, tags, metadata, created_at, updated_at;
