-- Purpose: The lines of an import (item_import, session/create_item_import) whose id another
--   line has too: the first $1, by line, each with the first line of its id.
-- Parameters:
--   $1 bigint: the most lines to answer
-- Index: none (reads the temporary table, which has none)
-- Rows: up to $1: the line, the id, and the first line with that id
SELECT d.line_number, d.id, d.first_line
FROM (
    SELECT
        b.line_number,
        b.id,
        min(b.line_number) OVER (PARTITION BY b.id) AS first_line
    FROM item_import AS b
) AS d
WHERE d.line_number > d.first_line
ORDER BY d.line_number
LIMIT $1;
