-- Removes the owner reference of items.
-- transactional: false
SET lock_timeout = '5s';
SET statement_timeout = '60s';

ALTER TABLE items DROP CONSTRAINT IF EXISTS items_owner_fk;
