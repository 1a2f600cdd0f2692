-- Purpose: Seed users for `python -m api sql check`: user n has the id
--   00000000-0000-4000-8000-<n in 12 hex digits> and the email user<n>@example.com; every 100th
--   is disabled. Not used by the service.
-- Parameters:
--   $1 integer: how many users
-- Index: none (writes only)
-- Rows: none returned; inserts $1
INSERT INTO users (id, email, password_hash, scopes, disabled)
SELECT
    ('00000000-0000-4000-8000-' || lpad(to_hex(g.n), 12, '0'))::uuid AS id,
    'user' || g.n || '@example.com' AS email,
    '$argon2id$v=19$m=65536,t=3,p=4$c2VlZA$c2VlZGVkLW5vdC1hLXJlYWwtaGFzaA' AS password_hash,
    CASE
        WHEN g.n % 50 = 0 THEN '{items:read,items:write,admin}'::text[]
        ELSE '{items:read,items:write}'::text[]
    END AS scopes,
    g.n % 100 = 0 AS disabled
FROM generate_series(1, $1) AS g (n);
