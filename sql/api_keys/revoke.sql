-- Purpose: Revoke an API key of the caller (or any key, for an admin) and every key created with
--   it, down the chain of parents, returning their ids so the process can drop them from its
--   cache at once. Keys revoked before keep their revocation time.
-- Parameters:
--   $1 uuid: key id
--   $2 uuid: the caller's user id
--   $3 boolean: true when the caller may revoke any key (admin)
-- Index: api_keys_pkey, api_keys_parent_id
-- Rows: zero, or one per key in the chain
WITH RECURSIVE chain AS (
    SELECT k.id
    FROM api_keys AS k
    WHERE k.id = $1 AND ($3 OR k.user_id = $2)
    UNION
    SELECT child.id
    FROM api_keys AS child
    INNER JOIN chain ON child.parent_id = chain.id
)

UPDATE api_keys AS k
SET revoked_at = coalesce(k.revoked_at, now())
FROM chain
WHERE k.id = chain.id
RETURNING k.id;
