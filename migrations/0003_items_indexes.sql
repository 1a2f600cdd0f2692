-- Indexes on items, built concurrently so that a live table keeps taking writes.
-- CREATE INDEX CONCURRENTLY cannot run inside a transaction, hence this step is not transactional.
-- transactional: false
-- squawk-disable-assume-in-transaction
-- depends: 0002_items
SET lock_timeout = '5s';
SET statement_timeout = 0;

-- Tag filters: tags && $1 (any of) and tags @> $1 (all of).
CREATE INDEX CONCURRENTLY IF NOT EXISTS items_tags_gin ON items USING gin (tags);

-- Metadata containment: metadata @> $1.
CREATE INDEX CONCURRENTLY IF NOT EXISTS items_metadata_gin
ON items USING gin (metadata jsonb_path_ops);

-- Fuzzy name search: $1 <% name (word similarity).
CREATE INDEX CONCURRENTLY IF NOT EXISTS items_name_trgm ON items USING gin (name gin_trgm_ops);

-- Keyset pagination in the list order: created_at DESC, id DESC.
CREATE INDEX CONCURRENTLY IF NOT EXISTS items_created_at_id ON items (created_at DESC, id DESC);
