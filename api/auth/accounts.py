"""Accounts: creating users and checking passwords."""

from __future__ import annotations

import asyncpg

from api.auth.passwords import MAX_PASSWORD_LENGTH, hash_password, password_problem, verify_password
from api.contracts.users import NewUser, check_email, normalize_email
from api.problems import ProblemError, invalid
from queries import users
from queries.auth import LoginReservation
from queries.users import Credentials, User


async def create_user(pool: asyncpg.Pool, new: NewUser) -> User:
    """Hash the password off the loop and store the user; 422 naming `$.email` for a malformed
    email or `$.password` for a common or breached password, 409 when the email is taken."""
    check_email(new.email)
    problem = password_problem(new.password, new.email)
    if problem is not None:
        raise invalid("$.password", problem)
    password_hash = await hash_password(new.password)
    scopes = sorted(set(new.scopes))
    try:
        return await users.create(pool, normalize_email(new.email), password_hash, scopes)
    except users.EmailTaken:
        raise ProblemError(
            409, "a user with this email exists already", slug="email-taken"
        ) from None


async def check_password(reserved: LoginReservation, password: str) -> Credentials | None:
    """The account's credentials when the password is right and the user is enabled, else None.

    An unknown email costs the same hashing work as a wrong password, so timing tells nothing.
    """
    # A longer password than any account can have is wrong, never cut to fit (NIST SP 800-63B
    # section 5.1.1.2); it is still hashed, cut, so that it costs what any other guess does.
    matches = await verify_password(reserved.password_hash, password[:MAX_PASSWORD_LENGTH])
    matches = matches and len(password) <= MAX_PASSWORD_LENGTH
    if reserved.user_id is None or reserved.password_hash is None or not matches:
        return None
    if reserved.disabled:
        return None
    return Credentials(
        reserved.user_id,
        reserved.password_hash,
        reserved.scopes or [],
        False,
        reserved.token_generation or 0,
    )
