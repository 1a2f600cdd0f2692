-- Purpose: Delete up to $1 of the oldest expired Idempotency-Key records (the service's periodic
--   sweep). Rows another transaction holds, such as another worker's sweep, are skipped, never
--   waited for, so that sweeps running at once share the rows instead of queueing on them.
-- Parameters:
--   $1 bigint: the most rows to delete (SWEEP_BATCH)
-- Index: idempotency_keys_expires_at_idx
-- Rows: one (the number of rows deleted)
WITH expired AS (
    DELETE FROM idempotency_keys AS k
    WHERE
        k.ctid = any(array(
            SELECT stale.ctid
            FROM idempotency_keys AS stale
            WHERE stale.expires_at <= now()
            ORDER BY stale.expires_at
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        ))
    RETURNING k.expires_at
)

SELECT count(*) AS deleted
FROM expired;
