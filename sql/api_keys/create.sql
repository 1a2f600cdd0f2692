-- Purpose: Store a new API key for a user: its hash, never the key itself.
-- Parameters:
--   $1 uuid: owner user id
--   $2 text: name
--   $3 text: recognisable prefix of the key
--   $4 bytea: HMAC-SHA256 of the key
--   $5 text[]: scopes
--   $6 timestamptz: expiry (at most API_KEY_MAX_TTL_DAYS ahead)
--   $7 uuid: the key the caller authenticated with, or null for a token
-- Index: api_keys_secret_hash_key (uniqueness)
-- Rows: one
INSERT INTO api_keys (user_id, name, prefix, secret_hash, scopes, expires_at, parent_id)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING id, name, prefix, scopes, expires_at, revoked_at, last_used_at, created_at;
