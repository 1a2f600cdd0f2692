-- Items reference their owner. Step two of two: validate the constraint added NOT VALID by
-- 0006_items_owner_fk. VALIDATE scans items but takes only a SHARE UPDATE EXCLUSIVE lock, so reads
-- and writes continue; it runs in a transaction of its own, apart from the ADD, so that lock is all
-- it holds. On a database where 0006 once validated in the same step, this is a no-op.
-- depends: 0006_items_owner_fk
SET lock_timeout = '5s';
SET statement_timeout = 0;

ALTER TABLE items VALIDATE CONSTRAINT items_owner_fk;
