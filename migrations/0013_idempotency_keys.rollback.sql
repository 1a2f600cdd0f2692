-- Removes the stored Idempotency-Key responses.
-- A rollback exists to drop what its migration created.
-- squawk-ignore-file ban-drop-table
SET lock_timeout = '5s';
SET statement_timeout = '60s';

DROP TABLE IF EXISTS idempotency_keys;
