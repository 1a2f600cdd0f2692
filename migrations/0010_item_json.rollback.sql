-- Drops the JSON shape of an item and its helpers.
-- squawk-ignore-file ban-drop-function, ban-drop-type
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP FUNCTION IF EXISTS item_json(items);
DROP FUNCTION IF EXISTS api_timestamp(timestamptz);
DROP TYPE IF EXISTS api_item;
