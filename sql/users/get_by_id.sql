-- Purpose: Fetch a user's public fields by id (GET /api/v1/users/me and /api/v1/users/{id}).
-- Parameters:
--   $1 uuid: user id
-- Index: users_pkey
-- Rows: zero or one
SELECT id, email, scopes, disabled, created_at, updated_at
FROM users
WHERE id = $1;
