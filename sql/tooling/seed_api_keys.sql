-- Purpose: Seed API keys for `python -m api sql check`: key n belongs to user 1 + (n - 1) % $2,
--   has the id 00000000-0000-4000-9000-<n in 12 hex digits> and the hash sha256('key-<n>'); every
--   tenth is revoked and every fifth expires. Not used by the service.
-- Parameters:
--   $1 integer: how many keys
--   $2 integer: how many users were seeded
-- Index: none (writes only)
-- Rows: none returned; inserts $1
INSERT INTO api_keys (
    id, user_id, name, prefix, secret_hash, scopes, expires_at, revoked_at, parent_id
)
SELECT
    ('00000000-0000-4000-9000-' || lpad(to_hex(g.n), 12, '0'))::uuid AS id,
    ('00000000-0000-4000-8000-' || lpad(to_hex(1 + (g.n - 1) % $2), 12, '0'))::uuid AS user_id,
    'key ' || g.n AS name,
    'ik_' || lpad(to_hex(g.n), 8, '0') AS prefix,
    sha256(convert_to('key-' || g.n, 'UTF8')) AS secret_hash,
    '{items:read}'::text[] AS scopes,
    CASE WHEN g.n % 5 = 0 THEN now() + make_interval(days => g.n % 90) END AS expires_at,
    CASE WHEN g.n % 10 = 0 THEN now() - make_interval(days => g.n % 30) END AS revoked_at,
    -- Every seventh key was created with the key before it (of another user here: the
    -- planner only needs the shape).
    CASE
        WHEN g.n % 7 = 0 THEN ('00000000-0000-4000-9000-' || lpad(to_hex(g.n - 1), 12, '0'))::uuid
    END AS parent_id
FROM generate_series(1, $1) AS g (n);
