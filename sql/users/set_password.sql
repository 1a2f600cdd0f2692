-- Purpose: Replace a user's password hash, by email (`python -m api users set-password`). The
--   caller hashes the new password (Argon2id) off the event loop.
-- Parameters:
--   $1 text: email, lower-case
--   $2 text: Argon2id password hash
-- Index: users_email_key
-- Rows: zero or one
UPDATE users
SET password_hash = $2
WHERE email = $1
RETURNING id;
