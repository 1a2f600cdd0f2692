-- Purpose: A user's API keys, newest first, without any secret.
-- Parameters:
--   $1 uuid: user id
-- Index: api_keys_user_id
-- Rows: one per key of the user
SELECT id, name, prefix, scopes, expires_at, revoked_at, last_used_at, created_at
FROM api_keys
WHERE user_id = $1
ORDER BY created_at DESC;
