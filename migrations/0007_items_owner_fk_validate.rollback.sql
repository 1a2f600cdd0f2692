-- Nothing to undo: validating only records that existing rows satisfy the constraint.
-- Rolling back 0006_items_owner_fk removes the constraint itself.
SET lock_timeout = '5s';
SET statement_timeout = '60s';
