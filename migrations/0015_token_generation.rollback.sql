-- Removes the users' token generations; tokens then live until they expire.
-- A rollback exists to drop what its migration created.
-- squawk-ignore-file ban-drop-column
SET lock_timeout = '5s';
SET statement_timeout = '60s';

ALTER TABLE users DROP COLUMN IF EXISTS token_generation;
