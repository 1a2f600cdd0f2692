-- Purpose: Seed failed-login counters for `python -m api sql check`: subjects
--   email:user<n>@example.com for odd n and ip:10.x.y.z (the bytes of n) for even n, windows
--   started up to a day ago.
--   Not used by the service.
-- Parameters:
--   $1 integer: how many subjects
-- Index: none (writes only)
-- Rows: none returned; inserts $1
INSERT INTO login_throttle (subject, failures, window_started_at)
SELECT
    CASE
        WHEN g.n % 2 = 1 THEN 'email:user' || g.n || '@example.com'
        ELSE 'ip:10.' || (g.n / 65536) % 256 || '.' || (g.n / 256) % 256 || '.' || g.n % 256
    END AS subject,
    1 + g.n % 5 AS failures,
    now() - make_interval(secs => g.n % 86400) AS window_started_at
FROM generate_series(1, $1) AS g (n);
