"""Login throttling (OWASP authentication guidance, NIST SP 800-63B section 5.2.2).

An attempt is reserved in PostgreSQL before its password is verified, in one statement that
counts it against the account and the client address, so that however many guesses arrive at
once at most LOGIN_MAX_FAILURES passwords per account per LOGIN_WINDOW_SECONDS are verified;
the others answer 429. The address counts failures on every account, with its own and much
higher limit (LOGIN_MAX_FAILURES_PER_ADDRESS): a client sharing a proxy's address with an
attacker keeps its correct password working until that limit. Counters are keyed by SHA-256
hashes, so subjects of any length fit, and live in PostgreSQL, so every worker shares them.
"""

from __future__ import annotations

import hashlib
import ipaddress

import asyncpg

from api.auth.events import security_event
from api.problems import ProblemError
from queries import auth
from queries.auth import LoginReservation

# Emails longer than this (users_email_length) or holding a NUL are nobody's: not looked up.
_MAX_EMAIL_LENGTH = 254


def subject_hash(kind: str, value: str) -> bytes:
    """SHA-256 of `kind:value` ('account' and an email, or 'address' and a client address)."""
    return hashlib.sha256(f"{kind}:{value}".encode("utf-8", "surrogatepass")).digest()


def address_subject(client_ip: str) -> str | None:
    """The address failed logins count against: the IP in its canonical form, an IPv6 address
    by its /64 (what one host is handed); None when `client_ip` is not an IP address."""
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class LoginThrottle:
    def __init__(
        self,
        pool: asyncpg.Pool,
        max_failures: int,
        max_failures_per_address: int,
        window_seconds: int,
    ) -> None:
        self.pool = pool
        self.max_failures = max_failures
        self.max_failures_per_address = max_failures_per_address
        self.window_seconds = window_seconds

    async def reserve(self, email: str, client_ip: str) -> Attempt:
        """Count one attempt for `email` from `client_ip`; 429 with Retry-After when either is
        over its limit. A malformed address is counted (under its own text) and then refused
        with 400, never verified."""
        address = address_subject(client_ip)
        attempt = Attempt(
            self,
            subject_hash("account", email),
            subject_hash("address", address if address is not None else f"malformed:{client_ip}"),
            client_ip,
        )
        lookup = email if len(email) <= _MAX_EMAIL_LENGTH and "\x00" not in email else None
        reserved = await auth.reserve_login_attempt(
            self.pool,
            attempt.account,
            attempt.address,
            self.window_seconds,
            self.max_failures,
            self.max_failures_per_address,
            lookup,
        )
        attempt.reservation = reserved
        if reserved.account_attempts > self.max_failures:
            self._refuse(reserved, "account", reserved.account_retry_after, client_ip)
        assert reserved.address_attempts is not None  # counted whenever the account was within
        if reserved.address_attempts > self.max_failures_per_address:
            await auth.release_login_attempt(self.pool, attempt.account)  # it was not verified
            self._refuse(reserved, "address", reserved.address_retry_after or 1, client_ip)
        if address is None:
            security_event(
                "login_failed",
                client_address=client_ip[:64],
                user_id=reserved.user_id,
                reason="malformed client address",
            )
            raise ProblemError(
                400,
                "the client address is not an IP address",
                slug="invalid-request",
                extra={"error": "invalid_request", "error_description": "malformed client address"},
            )
        return attempt

    def _refuse(
        self, reserved: LoginReservation, limit: str, retry_after: int, client_ip: str
    ) -> None:
        wait = max(1, retry_after)
        security_event(
            "login_throttled",
            client_address=client_ip,
            user_id=reserved.user_id,
            limit=limit,
            retry_after=wait,
        )
        raise ProblemError(
            429,
            # Attempts being verified count until they fail or succeed (the module docstring), so
            # a burst of correct ones is refused too: "failed" alone would be untrue.
            "too many login attempts, failed or still being checked; try again later",
            slug="too-many-login-attempts",
            headers={"Retry-After": str(wait), "Cache-Control": "no-store"},
        )


class Attempt:
    """A reserved attempt: the hashed subjects, and what the reservation returned."""

    def __init__(self, throttle: LoginThrottle, account: bytes, address: bytes, client_ip: str):
        self.throttle = throttle
        self.account = account
        self.address = address
        self.client_ip = client_ip
        self.reservation: LoginReservation | None = None

    async def succeeded(self) -> None:
        """The password was right: forget the account's attempts, give the address's back."""
        await auth.record_login_success(self.throttle.pool, self.account, self.address)


async def unlock(pool: asyncpg.Pool, email: str) -> bool:
    """Forget the attempts counted against the account `email`; False when there were none."""
    return await auth.clear_login_attempts(pool, subject_hash("account", email))
