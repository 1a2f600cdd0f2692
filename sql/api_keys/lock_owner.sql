-- Purpose: Lock a user's row for the rest of the transaction, so that the user's key creations
--   run one after another: api_keys/create, the next statement, then counts the user's working
--   keys with a snapshot taken after every earlier creation committed. (A count and an insert in
--   one statement would not do: under READ COMMITTED its snapshot predates the wait for a lock,
--   and two creations could each count one place left.) FOR NO KEY UPDATE leaves foreign key
--   checks (FOR KEY SHARE) free, so the user's item writes never wait for it.
-- Parameters:
--   $1 uuid: user id
-- Index: users_pkey
-- Rows: zero or one
SELECT id
FROM users
WHERE id = $1
FOR NO KEY UPDATE;
