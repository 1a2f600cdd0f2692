-- Purpose: Resolve a presented API key to its principal, recording its use. Only a live key of an
--   enabled user matches: not revoked, not expired.
-- Parameters:
--   $1 bytea: HMAC-SHA256 of the presented key
-- Index: api_keys_secret_hash_key, users_pkey
-- Rows: zero or one
UPDATE api_keys AS k
SET last_used_at = now()
FROM users AS u
WHERE
    k.secret_hash = $1
    AND u.id = k.user_id
    AND k.revoked_at IS NULL
    AND (k.expires_at IS NULL OR k.expires_at > now())
    AND NOT u.disabled
RETURNING k.id, k.user_id, k.scopes, k.expires_at, u.scopes AS user_scopes;
