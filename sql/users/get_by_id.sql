-- Purpose: Fetch a user's public fields by id (profile, and the token check for disabled users).
-- Parameters:
--   $1 uuid: user id
-- Index: users_pkey
-- Rows: zero or one
SELECT id, email, scopes, disabled, created_at, updated_at
FROM users
WHERE id = $1;
