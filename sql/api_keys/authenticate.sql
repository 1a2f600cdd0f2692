-- Purpose: Resolve a presented API key to its principal. Only a live key of an enabled user
--   matches: not revoked, not expired, and younger than the longest lifetime a key may have
--   (which also bounds keys created before that maximum existed). The expiry returned is the
--   earlier of the two. A read: an unknown or refused key costs no write and takes no lock
--   beyond the table's ACCESS SHARE (api_keys/record_use writes the last use of a live key).
-- Parameters:
--   $1 bytea: HMAC-SHA256 of the presented key
--   $2 integer: API_KEY_MAX_TTL_DAYS
--   $3 double precision: how old last_used_at may grow before it is written again, in seconds
-- Index: api_keys_secret_hash_key, users_pkey
-- Rows: zero or one
SELECT
    k.id,
    k.user_id,
    k.scopes,
    u.scopes AS user_scopes,
    least(k.expires_at, k.created_at + make_interval(days => $2)) AS expires_at,
    (k.last_used_at IS NULL OR k.last_used_at < now() - make_interval(secs => $3)) AS use_stale
FROM api_keys AS k
INNER JOIN users AS u ON k.user_id = u.id
WHERE
    k.secret_hash = $1
    AND k.revoked_at IS NULL
    AND (k.expires_at IS NULL OR k.expires_at > now())
    AND k.created_at > now() - make_interval(days => $2)
    AND NOT u.disabled;
