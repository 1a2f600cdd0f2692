-- The responses of requests sent with an Idempotency-Key (draft-ietf-httpapi-idempotency-key-
-- header), one per principal and key, kept until expires_at so that a retry gets the first
-- response again instead of a second write.
-- depends: 0012_identity_hardening
SET lock_timeout = '5s';
SET statement_timeout = '60s';

CREATE TABLE idempotency_keys (
    principal_id uuid NOT NULL,
    idempotency_key text NOT NULL,
    -- SHA-256 of the request's method, path and body: the same key with another request is
    -- refused.
    fingerprint bytea NOT NULL,
    -- squawk-ignore prefer-bigint-over-int
    status integer NOT NULL,
    -- The response headers a replay repeats, as [[name, value], ...].
    headers jsonb NOT NULL,
    body bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (principal_id, idempotency_key),
    CONSTRAINT idempotency_keys_principal_fk FOREIGN KEY (principal_id)
    REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT idempotency_keys_key_length CHECK (
        char_length(idempotency_key) BETWEEN 1 AND 255
    ),
    CONSTRAINT idempotency_keys_fingerprint_length CHECK (octet_length(fingerprint) = 32),
    CONSTRAINT idempotency_keys_status_range CHECK (status BETWEEN 200 AND 599),
    CONSTRAINT idempotency_keys_headers_array CHECK (jsonb_typeof(headers) = 'array')
);

-- The opportunistic clean-up takes the oldest expired rows.
CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at);
