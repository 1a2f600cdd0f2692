-- Access tokens end when their user's password changes: each token carries the generation it
-- was issued in, and a password change starts the next (OWASP ASVS 4.0 V3.3.3).
-- depends: 0014_search_unicode_and_typos
SET lock_timeout = '5s';
SET statement_timeout = '60s';

-- A constant default: PostgreSQL 11+ stores it in the catalog, no table rewrite. One per
-- password change, so integer is plenty.
-- squawk-ignore prefer-bigint-over-int
ALTER TABLE users ADD COLUMN token_generation integer NOT NULL DEFAULT 0;
