-- Purpose: One page of items by name, A to Z in the database's collation (`sort=name`), after a
--   keyset cursor: a range read of items_name_id. The first page passes the empty text, which
--   sorts before every name (a name is never empty).
-- Parameters:
--   $1 bigint: page size (the caller asks for one more row to learn whether a next page exists)
--   $2 text: cursor name, or the empty text for the first page
--   $3 uuid: cursor id, or 00000000-0000-0000-0000-000000000000 for the first page
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
WHERE (i.name, i.id) > ($2, $3)
ORDER BY i.name ASC, i.id ASC
LIMIT $1;
