-- Purpose: Revoke an API key of the caller (or any key, for an admin), returning its id when it
--   was found, so the process can drop it from its cache at once.
-- Parameters:
--   $1 uuid: key id
--   $2 uuid: the caller's user id
--   $3 boolean: true when the caller may revoke any key (admin)
-- Index: api_keys_pkey
-- Rows: zero or one
UPDATE api_keys
SET revoked_at = coalesce(revoked_at, now())
WHERE id = $1 AND ($3 OR user_id = $2)
RETURNING id;
