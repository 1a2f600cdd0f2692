-- Purpose: Record that a live API key was used, at most once per interval: a key used again
--   within it (by this process or another) is left alone, so that a busy key is not a write
--   per request. Run only for a key that api_keys/authenticate has just resolved.
-- Parameters:
--   $1 uuid: key id
--   $2 double precision: how old last_used_at may grow before it is written again, in seconds
-- Index: api_keys_pkey
-- Rows: zero or one
UPDATE api_keys
SET last_used_at = now()
WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2))
RETURNING id;
