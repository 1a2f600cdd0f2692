-- Purpose: Delete up to $2 of the login counters whose window has ended, oldest first (the
--   service's periodic sweep): an ended window counts as no attempts (reserve_login_attempt
--   starts it again), so its row only takes room. Rows another transaction holds, such as an
--   attempt's or another worker's sweep, are skipped, never waited for.
-- Parameters:
--   $1 double precision: window length in seconds (LOGIN_WINDOW_SECONDS)
--   $2 bigint: the most rows to delete (SWEEP_BATCH)
-- Index: login_throttle_window_started_at_idx
-- Rows: one (the number of rows deleted)
WITH ended AS (
    DELETE FROM login_throttle AS t
    WHERE
        t.ctid = any(array(
            SELECT stale.ctid
            FROM login_throttle AS stale
            WHERE stale.window_started_at <= now() - make_interval(secs => $1)
            ORDER BY stale.window_started_at
            LIMIT $2
            FOR UPDATE SKIP LOCKED
        ))
    RETURNING t.window_started_at
)

SELECT count(*) AS deleted
FROM ended;
