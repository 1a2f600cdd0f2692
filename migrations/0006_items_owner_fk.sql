-- Items reference their owner. Added NOT VALID (no scan under the lock) and validated in a second
-- statement, which takes only a SHARE UPDATE EXCLUSIVE lock and lets writes continue.
-- transactional: false
-- depends: 0005_identity_indexes
SET lock_timeout = '5s';
SET statement_timeout = 0;

ALTER TABLE items
ADD CONSTRAINT items_owner_fk FOREIGN KEY (owner_id)
REFERENCES users (id) ON DELETE SET NULL NOT VALID;

ALTER TABLE items VALIDATE CONSTRAINT items_owner_fk;
