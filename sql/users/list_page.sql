-- Purpose: One page of users in email order after a keyset cursor, for `python -m api users
--   list`. Public fields only: never the password hash.
-- Parameters:
--   $1 text: the last email of the previous page, or '' for the first page
--   $2 bigint: page size
-- Index: users_email_key
-- Rows: up to $2
SELECT id, email, scopes, disabled, created_at, updated_at
FROM users
WHERE email > $1
ORDER BY email
LIMIT $2;
