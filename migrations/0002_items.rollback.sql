-- Removes the items table and its trigger function.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP TABLE IF EXISTS items;
DROP FUNCTION IF EXISTS items_touch_updated_at();
