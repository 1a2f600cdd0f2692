-- Purpose: One page of items, oldest first (`sort=created_at`), after a keyset cursor and within a
--   creation window: list_recent read the other way along the same index.
-- Parameters:
--   $1 bigint: page size (the caller asks for one more row to learn whether a next page exists)
--   $2 timestamptz: created strictly after, or -infinity
--   $3 timestamptz: created strictly before, or infinity
--   $4 timestamptz: cursor created_at, or -infinity for the first page
--   $5 uuid: cursor id, or 00000000-0000-0000-0000-000000000000 for the first page
-- Index: items_created_at_id
-- Rows: up to $1, each the item as JSON (item_json, migration 0010)
SELECT item_json(i) AS item
FROM items AS i
WHERE
    created_at > $2
    AND created_at < $3
    AND (created_at, id) > ($4, $5)
ORDER BY created_at ASC, id ASC
LIMIT $1;
