-- The orders GET /api/v1/items may be sorted by besides creation (`sort`, docs/api.md): by
-- updated_at and by name, the id breaking ties, either direction (a B-tree is read both ways).
-- Each sort's page is then a range read of its index from the cursor on, as the default order's
-- is of items_created_at_id.
-- transactional: false
-- squawk-disable-assume-in-transaction
-- depends: 0020_item_counts
SET lock_timeout = '5s';
SET statement_timeout = 0;

CREATE INDEX CONCURRENTLY IF NOT EXISTS items_updated_at_id ON items (updated_at, id);

CREATE INDEX CONCURRENTLY IF NOT EXISTS items_name_id ON items (name, id);
