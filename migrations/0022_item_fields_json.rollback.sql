-- Drops the function of 0022_item_fields_json.
-- squawk-ignore-file ban-drop-function
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP FUNCTION IF EXISTS item_fields_json(items, text[]);
