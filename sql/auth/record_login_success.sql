-- Purpose: After a correct password: forget the account's attempts, and give back the address's
--   reservation (an address's counter counts failures, not logins).
-- Parameters:
--   $1 bytea: SHA-256 of 'account:<email>'
--   $2 bytea: SHA-256 of 'address:<client address>'
-- Index: login_throttle_pkey
-- Rows: none returned
WITH cleared AS (
    DELETE FROM login_throttle
    WHERE subject_hash = $1
)

UPDATE login_throttle
SET attempts = attempts - 1
WHERE subject_hash = $2 AND attempts > 0;
