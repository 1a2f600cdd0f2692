-- Purpose: Store a new API key for a user, its hash and never the key itself, unless the user
--   already has API_KEYS_MAX_PER_USER keys that still work (not revoked, not expired, younger
--   than API_KEY_MAX_TTL_DAYS): then nothing is stored. Runs after api_keys/lock_owner, in its
--   transaction, which makes the count exact under concurrent creations.
-- Parameters:
--   $1 uuid: owner user id
--   $2 text: name
--   $3 text: recognisable prefix of the key
--   $4 bytea: HMAC-SHA256 of the key
--   $5 text[]: scopes
--   $6 timestamptz: expiry (at most API_KEY_MAX_TTL_DAYS ahead)
--   $7 uuid: the key the caller authenticated with, or null for a token
--   $8 integer: API_KEY_MAX_TTL_DAYS
--   $9 bigint: API_KEYS_MAX_PER_USER
-- Index: api_keys_user_id_created_at_id, api_keys_secret_hash_key (uniqueness)
-- Rows: zero (the limit is reached) or one
INSERT INTO api_keys (user_id, name, prefix, secret_hash, scopes, expires_at, parent_id)
SELECT
    $1 AS user_id,
    $2 AS name,
    $3 AS prefix,
    $4 AS secret_hash,
    $5 AS scopes,
    $6 AS expires_at,
    $7 AS parent_id
WHERE (
    SELECT count(*)
    FROM api_keys AS k
    WHERE
        k.user_id = $1
        AND k.created_at > now() - make_interval(days => $8)
        AND k.revoked_at IS NULL
        AND (k.expires_at IS NULL OR k.expires_at > now())
) < $9
RETURNING id, name, prefix, scopes, expires_at, revoked_at, last_used_at, created_at;
