-- Removes the items table and its trigger function.
-- A rollback exists to drop what its migration created.
-- squawk-ignore-file ban-drop-table, ban-drop-function
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP TABLE IF EXISTS items;
DROP FUNCTION IF EXISTS touch_updated_at();
