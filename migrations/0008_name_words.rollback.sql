-- Drops the name-word dictionary, its triggers and functions.
-- squawk-ignore-file ban-drop-table, ban-drop-function
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP TRIGGER IF EXISTS items_name_words_update ON items;
DROP TRIGGER IF EXISTS items_name_words_insert ON items;
DROP FUNCTION IF EXISTS remember_name_words();
DROP TABLE IF EXISTS name_words;
DROP FUNCTION IF EXISTS item_name_words(text);
