-- Purpose: Count one failed login against each subject, starting a new window where the old one
--   has ended.
-- Parameters:
--   $1 text[]: subjects
--   $2 double precision: window length in seconds
-- Index: login_throttle_pkey (conflict target)
-- Rows: one per subject
INSERT INTO login_throttle AS t (subject, failures, window_started_at)
SELECT s.subject, 1 AS failures, now() AS window_started_at
FROM unnest($1::text[]) AS s (subject)
ON CONFLICT (subject) DO UPDATE
    SET
        failures = CASE
            WHEN t.window_started_at > now() - make_interval(secs => $2) THEN t.failures + 1
            ELSE 1
        END,
        window_started_at = CASE
            WHEN t.window_started_at > now() - make_interval(secs => $2) THEN t.window_started_at
            ELSE now()
        END
RETURNING subject, failures;
