-- Purpose: One page of the API keys a key may manage, newest first, after a keyset cursor: the
--   key itself and the keys created with it, never its parent or its siblings. Sentinels as in
--   api_keys/list_by_user.
-- Parameters:
--   $1 uuid: the key the caller authenticated with
--   $2 timestamptz: cursor created_at, or infinity for the first page
--   $3 uuid: cursor id, or ffffffff-ffff-ffff-ffff-ffffffffffff for the first page
--   $4 bigint: page size (the caller asks for one more row to learn whether a next page exists)
-- Index: api_keys_pkey, api_keys_parent_id
-- Rows: up to $4
SELECT id, name, prefix, scopes, expires_at, revoked_at, last_used_at, created_at
FROM api_keys
WHERE (id = $1 OR parent_id = $1) AND (created_at, id) < ($2, $3)
ORDER BY created_at DESC, id DESC
LIMIT $4;
