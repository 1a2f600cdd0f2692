-- Purpose: A page after the first of items by name, Z to A in the database's collation
--   (`sort=-name`), after a keyset cursor: items_name_id read backwards. No text sorts after every
--   name, so the first page is list_by_name_desc_first.
-- Parameters:
--   $1 bigint: page size (the caller asks for one more row to learn whether a next page exists)
--   $2 text: cursor name
--   $3 uuid: cursor id
--   $4 text[]: the fields to answer, in the item's order, or null for the whole item
-- Index: items_name_id
-- Rows: up to $1: the page key (the name, and the id when $4 is set, else null: it is
--   read from the item's JSON) and the item as JSON: item_json (migration 0010), or
--   item_fields_json of $4 (migration 0024)
SELECT
    i.name,
    CASE WHEN $4::text[] IS NOT NULL THEN i.id END AS id,
    CASE WHEN $4::text[] IS NULL THEN item_json(i) ELSE item_fields_json(i, $4) END AS item
FROM items AS i
WHERE (i.name, i.id) < ($2, $3)
ORDER BY i.name DESC, i.id DESC
LIMIT $1;
