-- Purpose: What an access token's check needs of its user: the scopes of an enabled user and
--   the current token generation (a token of an older one was issued before a password change).
-- Parameters:
--   $1 uuid: user id
-- Index: users_pkey
-- Rows: zero (no such user, or disabled) or one
SELECT scopes, token_generation
FROM users
WHERE id = $1 AND NOT disabled;
