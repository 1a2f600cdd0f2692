-- Drops the index of 0017_login_throttle_window_index without blocking writes.
-- transactional: false
-- squawk-disable-assume-in-transaction
SET lock_timeout = '5s';
SET statement_timeout = 0;

DROP INDEX CONCURRENTLY IF EXISTS login_throttle_window_started_at_idx;
