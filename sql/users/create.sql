-- Purpose: Create a user. The caller lower-cases the email and hashes the password (Argon2id).
-- Parameters:
--   $1 text: email, lower-case
--   $2 text: Argon2id password hash
--   $3 text[]: scopes
-- Index: users_email_key (uniqueness; a duplicate raises unique_violation)
-- Rows: one
INSERT INTO users (email, password_hash, scopes)
VALUES ($1, $2, $3)
RETURNING id, email, scopes, disabled, created_at, updated_at;
