-- Purpose: Reserve one login attempt for an account and for its client address before the
--   password is verified, and fetch what verifying it needs: concurrent guesses each get their
--   own count (the upsert locks the row), so at most $4 of them per window are verified. The
--   account's counter always counts (at most up to $4 + 1); the address's only when the
--   account's is within its limit. A counter whose window has ended starts again at 1. The
--   caller verifies the password only when both counts are within their limits, and gives the
--   reservations back on success (record_login_success) or when the password was not verified
--   (release_login_attempt).
-- Parameters:
--   $1 bytea: SHA-256 of 'account:<email>'
--   $2 bytea: SHA-256 of 'address:<client address>'
--   $3 double precision: window length in seconds
--   $4 integer: LOGIN_MAX_FAILURES
--   $5 integer: LOGIN_MAX_FAILURES_PER_ADDRESS
--   $6 text: email, lower-case; null when it cannot be an account's
-- Index: login_throttle_pkey (conflict target), users_email_key
-- Rows: one
WITH account AS (
    INSERT INTO login_throttle AS t (subject_hash, attempts, window_started_at)
    VALUES ($1, 1, now())
    ON CONFLICT (subject_hash) DO UPDATE
        SET
            attempts = CASE
                WHEN t.window_started_at > now() - make_interval(secs => $3)
                    THEN least(t.attempts, $4) + 1
                ELSE 1
            END,
            window_started_at = CASE
                WHEN t.window_started_at > now() - make_interval(secs => $3)
                    THEN t.window_started_at
                ELSE now()
            END
    RETURNING t.attempts, t.window_started_at
),

address AS (
    INSERT INTO login_throttle AS t (subject_hash, attempts, window_started_at)
    SELECT
        $2 AS subject_hash,
        1 AS attempts,
        now() AS window_started_at
    FROM account
    WHERE account.attempts <= $4
    ON CONFLICT (subject_hash) DO UPDATE
        SET
            attempts = CASE
                WHEN t.window_started_at > now() - make_interval(secs => $3)
                    THEN least(t.attempts, $5) + 1
                ELSE 1
            END,
            window_started_at = CASE
                WHEN t.window_started_at > now() - make_interval(secs => $3)
                    THEN t.window_started_at
                ELSE now()
            END
    RETURNING t.attempts, t.window_started_at
)

SELECT
    account.attempts AS account_attempts,
    address.attempts AS address_attempts,
    u.id AS user_id,
    u.password_hash,
    u.scopes,
    u.disabled,
    u.token_generation,
    ceil(
        extract(EPOCH FROM account.window_started_at + make_interval(secs => $3) - now())
    )::integer AS account_retry_after,
    ceil(
        extract(EPOCH FROM address.window_started_at + make_interval(secs => $3) - now())
    )::integer AS address_retry_after
FROM account
LEFT JOIN address ON TRUE
LEFT JOIN users AS u ON u.email = $6;
