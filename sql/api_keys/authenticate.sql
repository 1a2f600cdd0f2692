-- Purpose: Resolve a presented API key to its principal, recording its use. Only a live key of an
--   enabled user matches: not revoked, not expired, and younger than the longest lifetime a key
--   may have (which also bounds keys created before that maximum existed). The expiry returned
--   is the earlier of the two.
-- Parameters:
--   $1 bytea: HMAC-SHA256 of the presented key
--   $2 integer: API_KEY_MAX_TTL_DAYS
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
    AND k.created_at > now() - make_interval(days => $2)
    AND NOT u.disabled
RETURNING
    k.id,
    k.user_id,
    k.scopes,
    u.scopes AS user_scopes,
    least(k.expires_at, k.created_at + make_interval(days => $2)) AS expires_at;
