-- Purpose: Take the transaction's lock on one principal's Idempotency-Key, without waiting:
--   false while another transaction (the same key's first request, still running) holds it.
--   Released at commit or rollback, so it works under a transaction-pooling proxy.
-- Parameters:
--   $1 uuid: the principal's (user's) id
--   $2 text: the Idempotency-Key
-- Index: none (an advisory lock on a 64-bit hash of principal and key)
-- Rows: one
SELECT pg_try_advisory_xact_lock(hashtextextended($1::uuid::text || ':' || $2, 0)) AS acquired;
