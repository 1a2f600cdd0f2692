-- Removes the owner reference of items.
-- A rollback exists to drop what its migration created.
-- squawk-ignore-file ban-drop-constraint
SET lock_timeout = '5s';
SET statement_timeout = '60s';

ALTER TABLE items DROP CONSTRAINT IF EXISTS items_owner_fk;
