-- Removes the extensions added by 0001_extensions.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP EXTENSION IF EXISTS pg_trgm;
