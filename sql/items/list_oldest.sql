-- Purpose: One page of items, oldest first (`sort=created_at`), after a keyset cursor and within a
--   creation window: list_recent read the other way along the same index.
-- Parameters:
--   $1 bigint: page size (the caller asks for one more row to learn whether a next page exists)
--   $2 timestamptz: created strictly after, or -infinity
--   $3 timestamptz: created strictly before, or infinity
--   $4 timestamptz: cursor created_at, or -infinity for the first page
--   $5 uuid: cursor id, or 00000000-0000-0000-0000-000000000000 for the first page
--   $6 text[]: the fields to answer, in the item's order, or null for the whole item
-- Index: items_created_at_id
-- Rows: up to $1: the page key (created_at and id) when $6 is set, else nulls (the key
--   is read from the item's JSON), and the item as JSON: item_json (migration 0010), or
--   item_fields_json of $6 (migration 0024)
SELECT
    CASE WHEN $6::text[] IS NOT NULL THEN i.created_at END AS created_at,
    CASE WHEN $6::text[] IS NOT NULL THEN i.id END AS id,
    CASE WHEN $6::text[] IS NULL THEN item_json(i) ELSE item_fields_json(i, $6) END AS item
FROM items AS i
WHERE
    i.created_at > $2
    AND i.created_at < $3
    AND (i.created_at, i.id) > ($4, $5)
ORDER BY i.created_at ASC, i.id ASC
LIMIT $1;
