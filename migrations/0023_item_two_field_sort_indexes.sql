-- The two-field orders GET /api/v1/items may be sorted by (`sort=name,-created_at`,
-- docs/api.md#sorting): the name, then a time, the id breaking ties in the time's direction. A
-- B-tree is read both ways, so each index serves a pair of sorts: (name, created_at, id) serves
-- name,created_at and, backwards, -name,-created_at; (name, created_at DESC, id DESC) serves
-- name,-created_at and -name,created_at; the same for updated_at. Each page is then range reads
-- of one index from the cursor on, as the default order's is of items_created_at_id.
-- transactional: false
-- squawk-disable-assume-in-transaction
-- depends: 0022_item_fields_json
SET lock_timeout = '5s';
SET statement_timeout = 0;

CREATE INDEX CONCURRENTLY IF NOT EXISTS items_name_created_at_id
ON items (name, created_at, id);

CREATE INDEX CONCURRENTLY IF NOT EXISTS items_name_created_at_desc_id_desc
ON items (name, created_at DESC, id DESC);

CREATE INDEX CONCURRENTLY IF NOT EXISTS items_name_updated_at_id
ON items (name, updated_at, id);

CREATE INDEX CONCURRENTLY IF NOT EXISTS items_name_updated_at_desc_id_desc
ON items (name, updated_at DESC, id DESC);
