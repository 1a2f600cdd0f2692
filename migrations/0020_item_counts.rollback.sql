-- Removes the item counts of 0020_item_counts (ITEMS_MAX_PER_USER then has nothing to read).
-- squawk-ignore-file ban-drop-table, ban-drop-function
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP TRIGGER IF EXISTS items_count_truncate ON items;
DROP TRIGGER IF EXISTS items_count_deletes ON items;
DROP TRIGGER IF EXISTS items_count_inserts ON items;
DROP FUNCTION IF EXISTS count_items();
DROP TABLE IF EXISTS item_counts;
