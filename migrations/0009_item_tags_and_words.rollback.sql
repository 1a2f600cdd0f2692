-- Drops item_tags and item_words, and the trigger and function that keep them and name_words.
-- squawk-ignore-file ban-drop-table, ban-drop-function
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP TRIGGER IF EXISTS items_sync_search_truncate ON items;
DROP TRIGGER IF EXISTS items_sync_search_delete ON items;
DROP TRIGGER IF EXISTS items_sync_search_update ON items;
DROP TRIGGER IF EXISTS items_sync_search_insert ON items;
DROP FUNCTION IF EXISTS sync_item_search();
DROP TABLE IF EXISTS item_words;
DROP TABLE IF EXISTS item_tags;
