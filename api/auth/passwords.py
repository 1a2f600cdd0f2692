"""Argon2id password hashing, run in a worker thread so the event loop never waits on it."""

from __future__ import annotations

import asyncio
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2-cffi's defaults follow RFC 9106's second recommended option (t=3, m=64 MiB, p=4).
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so that both cases cost the same time.
    Made on first use, so that commands that never log anyone in do not pay for it."""
    return _hasher.hash("a password nobody has")


# NIST SP 800-63B section 5.1.1.2: at least 8 characters, at least 64 allowed (we allow 1,024,
# which bounds the hashing work), no composition rules, and refused when commonly used.
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024


@functools.cache
def _common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords of public breaches, as zxcvbn ships them (lower-case).
    Loaded on first use: the list costs a few MB, only where users are created."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problem(password: str, email: str | None = None) -> str | None:
    """Why `password` must not be used (a common or breached password, or the account's own
    email), or None. Its length is checked where it is decoded (MIN/MAX_PASSWORD_LENGTH)."""
    folded = password.casefold()
    if folded in _common_passwords():
        return "this password is in a list of common or breached passwords; choose another"
    if email is not None and folded in {email.casefold(), email.casefold().partition("@")[0]}:
        return "the password must not be the email address"
    return None


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(None, _hasher.hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return (
            _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches. With no hash (unknown user) it does the same work first."""
    return await asyncio.get_running_loop().run_in_executor(None, _verify, password_hash, password)
