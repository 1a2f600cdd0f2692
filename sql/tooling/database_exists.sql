-- Purpose: Whether a database of this name exists; `migrate up` creates it when it does not.
--   Not used by the service.
-- Parameters:
--   $1 text: database name
-- Index: none (catalog)
-- Rows: zero or one
SELECT TRUE AS present
FROM pg_database
WHERE datname = $1;
