-- Removes the extensions added by 0001_extensions.
-- A rollback exists to drop what its migration created.
-- squawk-ignore-file ban-drop-extension
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP EXTENSION IF EXISTS pg_trgm;
