-- Purpose: Store the response of a request sent with an Idempotency-Key, in the transaction of
--   its write, so that the key and the write commit together or not at all. An expired row of
--   the same key is replaced; a live one is kept, and then no row comes back.
-- Parameters:
--   $1 uuid: the principal's (user's) id
--   $2 text: the Idempotency-Key
--   $3 bytea: SHA-256 of the request's method, path and body
--   $4 integer: the response's status
--   $5 jsonb: the response headers a replay repeats, [[name, value], ...]
--   $6 bytea: the response body
--   $7 double precision: seconds the key is kept (IDEMPOTENCY_TTL_SECONDS)
-- Index: idempotency_keys_pkey (conflict target)
-- Rows: zero or one
INSERT INTO idempotency_keys AS k (
    principal_id, idempotency_key, fingerprint, status, headers, body, expires_at
)
VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))
ON CONFLICT (principal_id, idempotency_key) DO UPDATE
    SET
        fingerprint = excluded.fingerprint,
        status = excluded.status,
        headers = excluded.headers,
        body = excluded.body,
        created_at = now(),
        expires_at = excluded.expires_at
    WHERE k.expires_at <= now()
RETURNING k.principal_id;
