-- Purpose: The stored response of one principal's Idempotency-Key, unless expired (expired rows
--   are deleted by the periodic sweep, delete_expired).
-- Parameters:
--   $1 uuid: the principal's (user's) id
--   $2 text: the Idempotency-Key
-- Index: idempotency_keys_pkey
-- Rows: zero or one
SELECT k.fingerprint, k.status, k.headers, k.body
FROM idempotency_keys AS k
WHERE
    k.principal_id = $1
    AND k.idempotency_key = $2
    AND k.expires_at > now();
