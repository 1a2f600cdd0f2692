-- Purpose: Seed Idempotency-Key records for `python -m api sql check`: key n is 'key-<n>' of user
--   1 + (n - 1) % $2; every fiftieth has expired. Not used by the service.
-- Parameters:
--   $1 integer: how many keys
--   $2 integer: how many users were seeded
-- Index: none (writes only)
-- Rows: none returned; inserts $1
INSERT INTO idempotency_keys (
    principal_id, idempotency_key, fingerprint, status, headers, body, expires_at
)
SELECT
    ('00000000-0000-4000-8000-' || lpad(to_hex(1 + (g.n - 1) % $2), 12, '0'))::uuid
        AS principal_id,
    'key-' || g.n AS idempotency_key,
    sha256(convert_to('request-' || g.n, 'UTF8')) AS fingerprint,
    201 AS status,
    '[["content-type", "application/json"]]'::jsonb AS headers,
    convert_to('{"id":"' || g.n || '"}', 'UTF8') AS body,
    CASE
        WHEN g.n % 50 = 0 THEN now() - make_interval(secs => g.n % 3600)
        ELSE now() + make_interval(secs => g.n % 86400)
    END AS expires_at
FROM generate_series(1, $1) AS g (n);
