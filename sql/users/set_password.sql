-- Purpose: Replace a user's password hash, by email (`python -m api users set-password`), and
--   start the next token generation: every access token issued before is refused from now on.
--   The caller hashes the new password (Argon2id) off the event loop.
-- Parameters:
--   $1 text: email, lower-case
--   $2 text: Argon2id password hash
-- Index: users_email_key
-- Rows: zero or one
UPDATE users
SET
    password_hash = $2,
    token_generation = token_generation + 1
WHERE email = $1
RETURNING id;
