"""API keys: `itk_` + 43 characters of randomness; stored only as an HMAC-SHA256."""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "itk_"
_SHOWN_CHARACTERS = 12  # "itk_" and 8 characters, enough to recognise a key in a listing


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def looks_like_key(credential: str) -> bool:
    return credential.startswith(KEY_PREFIX)


def shown_prefix(key: str) -> str:
    return key[:_SHOWN_CHARACTERS]


def hash_key(pepper: bytes, key: str) -> bytes:
    """A fast keyed hash suits 256-bit random keys: there is nothing to brute-force."""
    return hmac.new(pepper, key.encode(), hashlib.sha256).digest()


def derive_pepper(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"items-api api-key pepper", hashlib.sha256).digest()
