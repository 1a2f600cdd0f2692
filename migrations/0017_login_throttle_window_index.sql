-- Login counters whose window has ended are deleted by the service's periodic sweep, oldest
-- first (sql/auth/delete_ended_login_windows.sql); without this index each sweep reads the table.
-- transactional: false
-- squawk-disable-assume-in-transaction
-- depends: 0016_api_keys_pages
SET lock_timeout = '5s';
SET statement_timeout = 0;

CREATE INDEX CONCURRENTLY IF NOT EXISTS login_throttle_window_started_at_idx
ON login_throttle (window_started_at);
