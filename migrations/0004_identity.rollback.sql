-- Removes users, API keys and login throttling.
-- A rollback exists to drop what its migration created.
-- squawk-ignore-file ban-drop-table, ban-drop-function
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP TABLE IF EXISTS login_throttle;
DROP TABLE IF EXISTS api_keys;
DROP TABLE IF EXISTS users;
