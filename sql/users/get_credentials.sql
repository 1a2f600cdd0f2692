-- Purpose: Fetch what a password login needs for a user.
-- Parameters:
--   $1 text: email, lower-case
-- Index: users_email_key
-- Rows: zero or one
SELECT id, password_hash, scopes, disabled, token_generation
FROM users
WHERE email = $1;
