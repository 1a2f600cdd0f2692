-- Users, their API keys, and the counters that throttle failed logins.
-- depends: 0003_items_indexes
SET lock_timeout = '5s';
SET statement_timeout = '60s';

CREATE TABLE users (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    email text NOT NULL,
    password_hash text NOT NULL,
    scopes text[] NOT NULL DEFAULT '{items:read}',
    disabled boolean NOT NULL DEFAULT FALSE,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_pkey PRIMARY KEY (id),
    -- Emails are stored lower-cased, so a plain unique constraint makes them unique
    -- case-insensitively.
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_email_lower CHECK (email = lower(email)),
    CONSTRAINT users_email_length CHECK (char_length(email) BETWEEN 3 AND 254),
    CONSTRAINT users_scopes_known CHECK (scopes <@ '{items:read,items:write,admin}'::text[])
);

CREATE TABLE api_keys (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL,
    name text NOT NULL,
    -- The first characters of the key, shown in listings so a person can recognise it.
    prefix text NOT NULL,
    -- HMAC-SHA256 of the whole key; the key itself is never stored.
    secret_hash bytea NOT NULL,
    scopes text[] NOT NULL,
    expires_at timestamptz,
    revoked_at timestamptz,
    last_used_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT api_keys_pkey PRIMARY KEY (id),
    CONSTRAINT api_keys_secret_hash_key UNIQUE (secret_hash),
    CONSTRAINT api_keys_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT api_keys_name_length CHECK (char_length(name) BETWEEN 1 AND 100),
    CONSTRAINT api_keys_scopes_known CHECK (scopes <@ '{items:read,items:write,admin}'::text[])
);

-- Failed logins per subject ('email:...' or 'ip:...') within a fixed window.
CREATE TABLE login_throttle (
    subject text NOT NULL,
    -- Bounded by the login limit and reset every window, so integer is plenty.
    -- squawk-ignore prefer-bigint-over-int
    failures integer NOT NULL,
    window_started_at timestamptz NOT NULL,
    CONSTRAINT login_throttle_pkey PRIMARY KEY (subject)
);

CREATE TRIGGER users_touch_updated_at
BEFORE UPDATE ON users
FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
