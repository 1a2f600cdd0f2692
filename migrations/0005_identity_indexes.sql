-- Indexes for ownership: items by owner (also serves ON DELETE of a user) and keys by user.
-- transactional: false
-- squawk-disable-assume-in-transaction
-- depends: 0004_identity
SET lock_timeout = '5s';
SET statement_timeout = 0;

CREATE INDEX CONCURRENTLY IF NOT EXISTS items_owner_id ON items (owner_id);

CREATE INDEX CONCURRENTLY IF NOT EXISTS api_keys_user_id ON api_keys (user_id, created_at);
