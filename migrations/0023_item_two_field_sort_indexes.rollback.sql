-- Drops the indexes of 0023_item_two_field_sort_indexes without blocking writes.
-- transactional: false
-- squawk-disable-assume-in-transaction
SET lock_timeout = '5s';
SET statement_timeout = 0;

DROP INDEX CONCURRENTLY IF EXISTS items_name_updated_at_desc_id_desc;

DROP INDEX CONCURRENTLY IF EXISTS items_name_updated_at_id;

DROP INDEX CONCURRENTLY IF EXISTS items_name_created_at_desc_id_desc;

DROP INDEX CONCURRENTLY IF EXISTS items_name_created_at_id;
