-- Purpose: One page of items, least recently updated first (`sort=updated_at`), after a keyset
--   cursor: a range read of items_updated_at_id.
-- Parameters:
--   $1 bigint: page size (the caller asks for one more row to learn whether a next page exists)
--   $2 timestamptz: cursor updated_at, or -infinity for the first page
--   $3 uuid: cursor id, or 00000000-0000-0000-0000-000000000000 for the first page
--   $4 text[]: the fields to answer, in the item's order, or null for the whole item
-- Index: items_updated_at_id
-- Rows: up to $1: the page key (the updated_at, and the id when $4 is set, else null: it is
--   read from the item's JSON) and the item as JSON: item_json (migration 0010), or
--   item_fields_json of $4 (migration 0024)
SELECT
    i.updated_at,
    CASE WHEN $4::text[] IS NOT NULL THEN i.id END AS id,
    CASE WHEN $4::text[] IS NULL THEN item_json(i) ELSE item_fields_json(i, $4) END AS item
FROM items AS i
WHERE (i.updated_at, i.id) > ($2, $3)
ORDER BY i.updated_at ASC, i.id ASC
LIMIT $1;
