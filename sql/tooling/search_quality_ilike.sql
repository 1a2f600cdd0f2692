-- Purpose: The name search most ORM code writes (`name ILIKE '%' || q || '%'`), which
--   `python -m benchmarks search-quality` compares with the service's search: the newest items
--   whose name contains the text, case-insensitively. Not used by the service.
-- Parameters:
--   $1 text: the search text, with LIKE's \, % and _ escaped
--   $2 bigint: how many
-- Index: items_name_trgm (pg_trgm serves ILIKE), items_created_at_id
-- Rows: up to $2
SELECT id
FROM items
WHERE name ILIKE '%' || $1 || '%'
ORDER BY created_at DESC, id DESC
LIMIT $2;
