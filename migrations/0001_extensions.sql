-- Extensions the schema relies on: pg_trgm for fuzzy name search.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

CREATE EXTENSION IF NOT EXISTS pg_trgm;
