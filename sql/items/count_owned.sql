-- Purpose: How many items a user owns (what ITEMS_MAX_PER_USER bounds), uncommitted writes of the
--   current transaction included.
-- Parameters:
--   $1 uuid: the user's id
-- Index: item_counts_pkey
-- Rows: one
SELECT coalesce(sum(c.items), 0)::bigint AS items
FROM item_counts AS c
WHERE c.owner_id = $1;
