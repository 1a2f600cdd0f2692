-- Purpose: After a correct password: forget the account's attempts, and give back the address's
--   reservation (an address's counter counts failures, not logins). An address counter over its
--   limit holds the limit's reservations plus one mark of refused attempts, so it goes back to
--   one below its limit.
-- Parameters:
--   $1 bytea: SHA-256 of 'account:<email>'
--   $2 bytea: SHA-256 of 'address:<client address>'
--   $3 integer: LOGIN_MAX_FAILURES_PER_ADDRESS
-- Index: login_throttle_pkey
-- Rows: none returned
WITH cleared AS (
    DELETE FROM login_throttle
    WHERE subject_hash = $1
)

UPDATE login_throttle
SET attempts = least(attempts, $3) - 1
WHERE subject_hash = $2 AND attempts > 0;
