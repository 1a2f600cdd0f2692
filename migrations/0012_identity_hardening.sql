-- Identity hardening: login counters keyed by a hash (a subject of any length fits a btree), the
-- keys:manage scope, and the key that created an API key (revoking a key revokes its children).
-- depends: 0011_sync_item_search_plain_inserts
SET lock_timeout = '5s';
SET statement_timeout = '60s';

-- The counters only live for one window: the new table starts empty, nothing is carried over.
-- squawk-ignore ban-drop-table
DROP TABLE login_throttle;

-- Attempts per subject (SHA-256 of 'account:<email>' or 'address:<ip>') within a fixed window.
CREATE TABLE login_throttle (
    subject_hash bytea NOT NULL,
    -- Capped at the limit plus one and reset every window, so integer is plenty.
    -- squawk-ignore prefer-bigint-over-int
    attempts integer NOT NULL,
    window_started_at timestamptz NOT NULL,
    CONSTRAINT login_throttle_pkey PRIMARY KEY (subject_hash),
    CONSTRAINT login_throttle_subject_hash_length CHECK (octet_length(subject_hash) = 32)
);

-- The scope sets with keys:manage. NOT VALID and never validated: every existing row satisfies
-- the narrower constraint it replaces (validated when it was made), so a scan would prove
-- nothing; new and updated rows are checked from now on.
ALTER TABLE users
ADD CONSTRAINT users_scopes_valid
CHECK (scopes <@ '{items:read,items:write,admin,keys:manage}'::text[]) NOT VALID;

-- Replaced by users_scopes_valid, a superset.
-- squawk-ignore ban-drop-constraint
ALTER TABLE users DROP CONSTRAINT users_scopes_known;

ALTER TABLE api_keys
ADD CONSTRAINT api_keys_scopes_valid
CHECK (scopes <@ '{items:read,items:write,admin,keys:manage}'::text[]) NOT VALID;

-- Replaced by api_keys_scopes_valid, a superset.
-- squawk-ignore ban-drop-constraint
ALTER TABLE api_keys DROP CONSTRAINT api_keys_scopes_known;

-- The API key whose caller created this one; null for keys created with a token. NOT VALID and
-- never validated: the column is new, every existing row holds null.
ALTER TABLE api_keys ADD COLUMN parent_id uuid;

ALTER TABLE api_keys
ADD CONSTRAINT api_keys_parent_fk FOREIGN KEY (parent_id)
REFERENCES api_keys (id) ON DELETE CASCADE NOT VALID;

-- Finds a key's children when it is revoked (and serves the foreign key's ON DELETE). Built in
-- the transaction: a service has a few keys per user, so the build holds the write lock for
-- milliseconds, and the column it covers is null everywhere (a partial index of nothing).
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX api_keys_parent_id ON api_keys (parent_id)
WHERE parent_id IS NOT NULL;
