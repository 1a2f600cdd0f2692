-- Purpose: One page of a user's API keys, newest first, after a keyset cursor, without any
--   secret. The first page passes sentinels instead of nulls (infinity, the greatest uuid) so
--   that the cursor stays an index condition in the generic plan.
-- Parameters:
--   $1 uuid: user id
--   $2 timestamptz: cursor created_at, or infinity for the first page
--   $3 uuid: cursor id, or ffffffff-ffff-ffff-ffff-ffffffffffff for the first page
--   $4 bigint: page size (the caller asks for one more row to learn whether a next page exists)
-- Index: api_keys_user_id_created_at_id
-- Rows: up to $4
SELECT id, name, prefix, scopes, expires_at, revoked_at, last_used_at, created_at
FROM api_keys
WHERE user_id = $1 AND (created_at, id) < ($2, $3)
ORDER BY created_at DESC, id DESC
LIMIT $4;
