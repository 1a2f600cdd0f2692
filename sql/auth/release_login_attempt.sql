-- Purpose: Give back a reserved login attempt whose password was not verified: the account's
--   when its address was over the address limit; the account's and the address's when the
--   request was cancelled before its password was checked. A counter over its limit holds that
--   limit's reservations plus one mark of refused attempts (reserve_login_attempt), so one
--   reservation given back leaves it one below its limit.
-- Parameters:
--   $1 bytea: SHA-256 of 'account:<email>'
--   $2 integer: LOGIN_MAX_FAILURES
--   $3 bytea: SHA-256 of 'address:<client address>'; null when the address was not counted
--   $4 integer: LOGIN_MAX_FAILURES_PER_ADDRESS
-- Index: login_throttle_pkey
-- Rows: none returned
UPDATE login_throttle
SET
    attempts = least(
        attempts, CASE WHEN subject_hash = $1 THEN $2::integer ELSE $4::integer END
    ) - 1
WHERE subject_hash IN ($1, $3) AND attempts > 0;
