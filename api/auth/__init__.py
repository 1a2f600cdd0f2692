"""Identity and access: principals, scopes, JWTs, API keys, passwords."""
