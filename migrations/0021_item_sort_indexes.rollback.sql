-- Drops the indexes of 0021_item_sort_indexes without blocking writes.
-- transactional: false
-- squawk-disable-assume-in-transaction
SET lock_timeout = '5s';
SET statement_timeout = 0;

DROP INDEX CONCURRENTLY IF EXISTS items_name_id;

DROP INDEX CONCURRENTLY IF EXISTS items_updated_at_id;
