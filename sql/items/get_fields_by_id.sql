-- Purpose: Some fields of one item (`fields=`), built as JSON by item_fields_json (migration 0024),
--   and its version for the ETag, whatever fields are asked for.
-- Parameters:
--   $1 uuid: the item's id
--   $2 text[]: the field names, in queries.items.Item's order
-- Index: items_pkey
-- Rows: zero or one: updated_at and the fields as JSON
SELECT i.updated_at, item_fields_json(i, $2::text[]) AS item
FROM items AS i
WHERE i.id = $1;
