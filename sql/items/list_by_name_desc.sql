-- Purpose: A page after the first of items by name, Z to A in the database's collation
--   (`sort=-name`), after a keyset cursor: items_name_id read backwards. No text sorts after every
--   name, so the first page is list_by_name_desc_first.
-- Parameters:
--   $1 bigint: page size (the caller asks for one more row to learn whether a next page exists)
--   $2 text: cursor name
--   $3 uuid: cursor id
-- Index: items_name_id
-- Rows: up to $1: the name (the page key) and the item as JSON (item_json, migration 0010)
SELECT i.name, item_json(i) AS item
FROM items AS i
WHERE (i.name, i.id) < ($2, $3)
ORDER BY i.name DESC, i.id DESC
LIMIT $1;
