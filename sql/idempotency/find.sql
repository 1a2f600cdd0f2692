-- Purpose: The stored response of one principal's Idempotency-Key, unless expired; on the way,
--   delete up to 16 of the oldest expired keys of anyone (the clean-up, without a cron job;
--   rows another transaction holds are skipped, never waited for).
-- Parameters:
--   $1 uuid: the principal's (user's) id
--   $2 text: the Idempotency-Key
-- Index: idempotency_keys_pkey (the lookup), idempotency_keys_expires_at_idx (the clean-up)
-- Rows: zero or one
WITH expired AS (
    DELETE FROM idempotency_keys AS k
    WHERE k.ctid = any(array(
        SELECT stale.ctid
        FROM idempotency_keys AS stale
        WHERE stale.expires_at <= now()
        ORDER BY stale.expires_at
        LIMIT 16
        FOR UPDATE SKIP LOCKED
    ))
)

SELECT k.fingerprint, k.status, k.headers, k.body
FROM idempotency_keys AS k
WHERE
    k.principal_id = $1
    AND k.idempotency_key = $2
    AND k.expires_at > now();
