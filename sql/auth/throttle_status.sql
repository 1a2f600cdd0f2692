-- Purpose: The failed-login counters of the given subjects that are still inside their window.
-- Parameters:
--   $1 text[]: subjects, e.g. {email:a@b.c,ip:10.0.0.1}
--   $2 double precision: window length in seconds
-- Index: login_throttle_pkey
-- Rows: up to one per subject
SELECT subject, failures, window_started_at + make_interval(secs => $2) AS window_ends_at
FROM login_throttle
WHERE subject = ANY($1) AND window_started_at > now() - make_interval(secs => $2);
