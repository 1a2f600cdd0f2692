-- Pages of a user's API keys in a stable order (newest first, then by id), read from the index.
-- Replaces api_keys_user_id (user_id, created_at): the new index has the same leading columns,
-- so it also serves the count of a user's working keys and the foreign key's ON DELETE.
-- CREATE INDEX CONCURRENTLY cannot run inside a transaction, hence this step is not transactional.
-- transactional: false
-- squawk-disable-assume-in-transaction
-- depends: 0015_token_generation
SET lock_timeout = '5s';
SET statement_timeout = 0;

CREATE INDEX CONCURRENTLY IF NOT EXISTS api_keys_user_id_created_at_id
ON api_keys (user_id, created_at, id);

DROP INDEX CONCURRENTLY IF EXISTS api_keys_user_id;
