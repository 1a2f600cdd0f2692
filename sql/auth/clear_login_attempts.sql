-- Purpose: Lift a lock: forget every attempt counted against a subject (`users unlock`).
-- Parameters:
--   $1 bytea: SHA-256 of 'account:<email>'
-- Index: login_throttle_pkey
-- Rows: zero or one
DELETE FROM login_throttle
WHERE subject_hash = $1
RETURNING attempts;
