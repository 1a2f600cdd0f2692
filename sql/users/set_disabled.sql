-- Purpose: Disable or re-enable a user by email. Their tokens and API keys stop working.
-- Parameters:
--   $1 text: email, lower-case
--   $2 boolean: true to disable
-- Index: users_email_key
-- Rows: zero or one
UPDATE users
SET disabled = $2
WHERE email = $1
RETURNING id;
