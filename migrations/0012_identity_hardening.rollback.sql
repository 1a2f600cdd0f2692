-- Puts back the identity schema of 0004-0005: subject-keyed login counters, the three scopes,
-- no parent keys. keys:manage is removed from every user and key first, so that the narrower
-- constraints hold.
-- A rollback exists to drop what its migration created.
-- squawk-ignore-file ban-drop-table, ban-drop-column, ban-drop-constraint
SET lock_timeout = '5s';
SET statement_timeout = '60s';

ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS api_keys_parent_fk;

-- Takes its index api_keys_parent_id with it.
ALTER TABLE api_keys DROP COLUMN IF EXISTS parent_id;

UPDATE api_keys SET scopes = array_remove(scopes, 'keys:manage')
WHERE 'keys:manage' = ANY(scopes);

ALTER TABLE api_keys
ADD CONSTRAINT api_keys_scopes_known
CHECK (scopes <@ '{items:read,items:write,admin}'::text[]) NOT VALID;

ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS api_keys_scopes_valid;

UPDATE users SET scopes = array_remove(scopes, 'keys:manage')
WHERE 'keys:manage' = ANY(scopes);

ALTER TABLE users
ADD CONSTRAINT users_scopes_known
CHECK (scopes <@ '{items:read,items:write,admin}'::text[]) NOT VALID;

ALTER TABLE users DROP CONSTRAINT IF EXISTS users_scopes_valid;

DROP TABLE IF EXISTS login_throttle;

-- Failed logins per subject ('email:...' or 'ip:...') within a fixed window.
CREATE TABLE login_throttle (
    subject text NOT NULL,
    -- squawk-ignore prefer-bigint-over-int
    failures integer NOT NULL,
    window_started_at timestamptz NOT NULL,
    CONSTRAINT login_throttle_pkey PRIMARY KEY (subject)
);
