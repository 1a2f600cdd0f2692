-- Purpose: Seed login counters for `python -m api sql check`: the hashes of
--   account:user<n>@example.com for odd n and address:10.x.y.z (the bytes of n) for even n,
--   windows started up to a day ago.
--   Not used by the service.
-- Parameters:
--   $1 integer: how many subjects
-- Index: none (writes only)
-- Rows: none returned; inserts $1
INSERT INTO login_throttle (subject_hash, attempts, window_started_at)
SELECT
    sha256(convert_to(
        CASE
            WHEN g.n % 2 = 1 THEN 'account:user' || g.n || '@example.com'
            ELSE
                'address:10.' || (g.n / 65536) % 256 || '.' || (g.n / 256) % 256 || '.'
                || g.n % 256
        END,
        'UTF8'
    )) AS subject_hash,
    1 + g.n % 5 AS attempts,
    now() - make_interval(secs => g.n % 86400) AS window_started_at
FROM generate_series(1, $1) AS g (n);
