-- Purpose: The lines of an import (item_import, session/create_item_import) that name an item of
--   another owner, which a caller who is not admin may not replace: the first $3, by line.
-- Parameters:
--   $1 uuid: the caller's id
--   $2 boolean: true when the caller may write any item (admin): then none
--   $3 bigint: the most lines to answer
-- Index: items_pkey
-- Rows: up to $3: the line and the item's id
SELECT b.line_number, b.id
FROM item_import AS b
INNER JOIN items AS i ON b.id = i.id
WHERE NOT $2 AND i.owner_id IS DISTINCT FROM $1
ORDER BY b.line_number
LIMIT $3;
