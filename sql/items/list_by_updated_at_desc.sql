-- Purpose: One page of items, most recently updated first (`sort=-updated_at`), after a keyset
--   cursor: items_updated_at_id read backwards.
-- Parameters:
--   $1 bigint: page size (the caller asks for one more row to learn whether a next page exists)
--   $2 timestamptz: cursor updated_at, or infinity for the first page
--   $3 uuid: cursor id, or ffffffff-ffff-ffff-ffff-ffffffffffff for the first page
-- Index: items_updated_at_id
-- Rows: up to $1: the updated_at (the page key) and the item as JSON (item_json, migration 0010)
SELECT i.updated_at, item_json(i) AS item
FROM items AS i
WHERE (i.updated_at, i.id) < ($2, $3)
ORDER BY i.updated_at DESC, i.id DESC
LIMIT $1;
