-- Drops the indexes of 0005_identity_indexes without blocking writes.
-- transactional: false
-- squawk-disable-assume-in-transaction
SET lock_timeout = '5s';
SET statement_timeout = 0;

DROP INDEX CONCURRENTLY IF EXISTS api_keys_user_id;
DROP INDEX CONCURRENTLY IF EXISTS items_owner_id;
