-- Purpose: The first page of items by name, Z to A in the database's collation (`sort=-name`):
--   the end of items_name_id read backwards; the next pages are list_by_name_desc.
-- Parameters:
--   $1 bigint: page size (the caller asks for one more row to learn whether a next page exists)
-- Index: items_name_id
-- Rows: up to $1: the name (the page key) and the item as JSON (item_json, migration 0010)
SELECT i.name, item_json(i) AS item
FROM items AS i
ORDER BY i.name DESC, i.id DESC
LIMIT $1;
