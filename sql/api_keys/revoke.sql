-- Purpose: Revoke an API key and every key created with it, down the chain of parents, returning
--   their ids so the process can drop them from its cache at once. An admin may revoke any key;
--   a user's token any key of the user; a key only itself and the keys created with it (any
--   other key is as if absent). Keys revoked before keep their revocation time.
-- Parameters:
--   $1 uuid: key id
--   $2 uuid: the caller's user id
--   $3 boolean: true when the caller may revoke any key (admin)
--   $4 uuid: the key the caller authenticated with, or null for a token
-- Index: api_keys_pkey, api_keys_parent_id
-- Rows: zero, or one per key in the chain
WITH RECURSIVE chain AS (
    SELECT k.id
    FROM api_keys AS k
    WHERE
        k.id = $1
        AND ($3 OR (k.user_id = $2 AND ($4::uuid IS NULL OR $4 IN (k.id, k.parent_id))))
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
