-- Items reference their owner. Step one of two: the constraint is added NOT VALID, so existing rows
-- are not scanned under the lock; new and updated rows are checked from now on.
-- 0007_items_owner_fk_validate proves the existing rows in its own transaction.
-- depends: 0005_identity_indexes
SET lock_timeout = '5s';
SET statement_timeout = '60s';

ALTER TABLE items
ADD CONSTRAINT items_owner_fk FOREIGN KEY (owner_id)
REFERENCES users (id) ON DELETE SET NULL NOT VALID;
