-- Purpose: One page of items by name, A to Z in the database's collation (`sort=name`), after a
--   keyset cursor: a range read of items_name_id. The first page passes the empty text, which
--   sorts before every name (a name is never empty).
-- Parameters:
--   $1 bigint: page size (the caller asks for one more row to learn whether a next page exists)
--   $2 text: cursor name, or the empty text for the first page
--   $3 uuid: cursor id, or 00000000-0000-0000-0000-000000000000 for the first page
-- Index: items_name_id
-- Rows: up to $1: the name (the page key) and the item as JSON (item_json, migration 0010)
SELECT i.name, item_json(i) AS item
FROM items AS i
WHERE (i.name, i.id) > ($2, $3)
ORDER BY i.name ASC, i.id ASC
LIMIT $1;
