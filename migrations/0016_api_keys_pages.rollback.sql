-- Puts back the index of 0005_identity_indexes in place of the paging index, without blocking
-- writes.
-- transactional: false
-- squawk-disable-assume-in-transaction
SET lock_timeout = '5s';
SET statement_timeout = 0;

CREATE INDEX CONCURRENTLY IF NOT EXISTS api_keys_user_id ON api_keys (user_id, created_at);

DROP INDEX CONCURRENTLY IF EXISTS api_keys_user_id_created_at_id;
