"""Argon2id password hashing, run in a worker thread so the event loop never waits on it."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2-cffi's defaults follow RFC 9106's second recommended option (t=3, m=64 MiB, p=4).
_hasher = PasswordHasher()
# Verified against when the user does not exist, so that both cases cost the same time.
_DUMMY_HASH = _hasher.hash("a password nobody has")

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(None, _hasher.hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches. With no hash (unknown user) it does the same work first."""
    return await asyncio.get_running_loop().run_in_executor(None, _verify, password_hash, password)
