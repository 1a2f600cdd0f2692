-- Purpose: Fetch the items with these ids: the point reads of concurrent requests, coalesced
--   into one statement (queries/coalesce.py).
-- Parameters:
--   $1 uuid[]: the ids, distinct, at most COALESCE_MAX_BATCH of them
-- Index: items_pkey
-- Rows: zero or one per id
SELECT id, owner_id, name, description, tags, metadata, created_at, updated_at
FROM items
WHERE id = ANY($1::uuid[]);
