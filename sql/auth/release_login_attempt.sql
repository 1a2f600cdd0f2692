-- Purpose: Give back a reserved login attempt whose password was not verified (the account's,
--   when its address was over the address limit).
-- Parameters:
--   $1 bytea: SHA-256 of the subject
-- Index: login_throttle_pkey
-- Rows: none returned
UPDATE login_throttle
SET attempts = attempts - 1
WHERE subject_hash = $1 AND attempts > 0;
