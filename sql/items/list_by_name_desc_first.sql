-- Purpose: The first page of items by name, Z to A in the database's collation (`sort=-name`):
--   the end of items_name_id read backwards; the next pages are list_by_name_desc.
-- Parameters:
--   $1 bigint: page size (the caller asks for one more row to learn whether a next page exists)
--   $2 text[]: the fields to answer, in the item's order, or null for the whole item
-- Index: items_name_id
-- Rows: up to $1: the page key (the name, and the id when $2 is set, else null: it is
--   read from the item's JSON) and the item as JSON: item_json (migration 0010), or
--   item_fields_json of $2 (migration 0024)
SELECT
    i.name,
    CASE WHEN $2::text[] IS NOT NULL THEN i.id END AS id,
    CASE WHEN $2::text[] IS NULL THEN item_json(i) ELSE item_fields_json(i, $2) END AS item
FROM items AS i
ORDER BY i.name DESC, i.id DESC
LIMIT $1;
