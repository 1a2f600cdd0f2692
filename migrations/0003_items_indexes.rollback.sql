-- Drops the indexes of 0003_items_indexes without blocking writes.
-- transactional: false
-- squawk-disable-assume-in-transaction
SET lock_timeout = '5s';
SET statement_timeout = 0;

DROP INDEX CONCURRENTLY IF EXISTS items_created_at_id;
DROP INDEX CONCURRENTLY IF EXISTS items_name_trgm;
DROP INDEX CONCURRENTLY IF EXISTS items_metadata_gin;
DROP INDEX CONCURRENTLY IF EXISTS items_tags_gin;
