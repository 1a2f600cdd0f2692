-- Purpose: The temporary table an import is copied into (COPY, asyncpg's copy_records_to_table)
--   before one statement writes it into items (items/import_upsert). Private to the session and
--   dropped when the transaction ends, committed or not: nothing of an import outlives it, and
--   nothing is logged to the WAL. `line_number` is the item's line in the body, for the refusals.
--   A definition, not a query: `sql check` has no plan of it to check, and creates it in the
--   transaction of each statement it checks, as the service does.
-- Parameters: none
-- Index: none (creates a table)
-- Rows: none
CREATE TEMPORARY TABLE item_import (
    line_number integer NOT NULL,
    id uuid NOT NULL,
    name text NOT NULL,
    description text,
    tags text[] NOT NULL,
    metadata jsonb NOT NULL
) ON COMMIT DROP;
