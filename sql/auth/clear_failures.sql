-- Purpose: Forget the failed logins of a subject after a successful login.
-- Parameters:
--   $1 text: subject, e.g. email:a@b.c
-- Index: login_throttle_pkey
-- Rows: zero or one
DELETE FROM login_throttle
WHERE subject = $1;
