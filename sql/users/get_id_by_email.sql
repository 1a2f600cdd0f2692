-- Purpose: The id of the user with this email (`python -m api seed --owner EMAIL`).
-- Parameters:
--   $1 text: email, lower-case
-- Index: users_email_key
-- Rows: zero or one
SELECT id
FROM users
WHERE email = $1;
