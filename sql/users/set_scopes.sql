-- Purpose: Replace a user's scopes, by email (`python -m api users set-scopes`). Their tokens and
--   API keys keep only the scopes the user still has.
-- Parameters:
--   $1 text: email, lower-case
--   $2 text[]: scopes, each one of the users_scopes_known constraint's
-- Index: users_email_key
-- Rows: zero or one
UPDATE users
SET scopes = $2
WHERE email = $1
RETURNING id;
