-- Drops the name-word dictionary and the function that splits names into words.
-- squawk-ignore-file ban-drop-table, ban-drop-function
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP TABLE IF EXISTS name_words;
DROP FUNCTION IF EXISTS item_name_words(text);
