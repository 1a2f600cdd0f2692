"""Login throttling (OWASP authentication guidance, NIST SP 800-63B section 5.2.2).

An attempt is reserved in PostgreSQL before its password is verified, in one statement that
counts it against the account and the client address, so that however many guesses arrive at
once at most LOGIN_MAX_FAILURES passwords per account per LOGIN_WINDOW_SECONDS are verified;
the others answer 429. The address counts failures on every account, with its own and much
higher limit (LOGIN_MAX_FAILURES_PER_ADDRESS): a client sharing a proxy's address with an
attacker keeps its correct password working until that limit. Counters are keyed by SHA-256
hashes, so subjects of any length fit, and live in PostgreSQL, so every worker shares them.

Only a failure stays counted: a wrong password, an unknown or disabled user, a malformed client
address, each logged as a `login_failed` event. A request may be cancelled anywhere (its client
gone, its budget spent: api/budget.py), and a statement cancelled mid-way may still commit, so
from its reservation statement on an attempt runs in a task of its own, which the request only
waits for (`LoginThrottle.login`). Cancelled before its password is checked, the attempt gives
its reservation back; once the check has begun, its verdict settles the count as if answered:
a right password clears the account's failures, a wrong one counts (so a client that leaves
while each guess is checked gets no more guesses, and no more hashing, than one that waits).
Cancelled while it waits for a connection, it has reserved nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from api.auth.accounts import check_password
from api.auth.events import security_event
from api.logs import get_logger
from api.problems import ProblemError
from queries import auth
from queries.auth import LoginReservation
from queries.users import Credentials

# Emails longer than this (users_email_length) or holding a NUL are nobody's: not looked up.
_MAX_EMAIL_LENGTH = 254
# The longest an attempt runs, once reserved: its statements are bounded by DB_ACQUIRE_TIMEOUT_MS
# and DB_STATEMENT_TIMEOUT_MS, and this bounds them all, also without a statement timeout
# (DB_SESSION_PARAMETERS=false) or with a frozen server. An attempt cut short stays counted.
SETTLE_SECONDS = 10.0
_log = get_logger("api.auth")


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
        # The attempts under way, each in its own task: kept here until done, and waited for
        # at shutdown so that none is left counted by a closing pool.
        self._running: set[asyncio.Task[Credentials | None]] = set()

    async def login(self, email: str, client_ip: str, password: str) -> Credentials | None:
        """The account's credentials when `password` is right; None when it is wrong (counted
        and logged). 429 with Retry-After when the account or the address is over its limit;
        400 for a malformed client address (counted and logged, never verified)."""
        attempt = Attempt(email, client_ip)
        connection = await self.pool.acquire()  # cancelled while waiting: nothing is reserved
        task = asyncio.ensure_future(self._settle(attempt, connection, password))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            attempt.abandoned = True
            raise

    async def close(self) -> None:
        """Wait for the attempts under way (each at most SETTLE_SECONDS)."""
        await asyncio.gather(*self._running, return_exceptions=True)

    async def _settle(
        self, attempt: Attempt, connection: PoolConnectionProxy[asyncpg.Record], password: str
    ) -> Credentials | None:
        try:
            async with asyncio.timeout(SETTLE_SECONDS):
                return await self._attempt(attempt, connection, password)
        except Exception as error:
            if not attempt.abandoned:
                raise
            if not isinstance(error, ProblemError):  # a refusal nobody waits for is no fault
                _log.error("an abandoned login attempt failed", error=repr(error))
            return None

    async def _attempt(
        self, attempt: Attempt, connection: PoolConnectionProxy[asyncpg.Record], password: str
    ) -> Credentials | None:
        try:
            reserved = await auth.reserve_login_attempt(
                connection,
                attempt.account,
                attempt.address,
                self.window_seconds,
                self.max_failures,
                self.max_failures_per_address,
                attempt.lookup,
            )
        finally:
            await self.pool.release(connection)
        if reserved.account_attempts > self.max_failures:
            self._refuse(reserved, "account", reserved.account_retry_after, attempt.client_ip)
        assert reserved.address_attempts is not None  # counted whenever the account was within
        if reserved.address_attempts > self.max_failures_per_address:
            await self._release(attempt, address=False)  # the account's: it was not verified
            self._refuse(reserved, "address", reserved.address_retry_after or 1, attempt.client_ip)
        if attempt.abandoned:
            await self._release(attempt, address=True)
            return None
        if attempt.malformed:
            self._failed(attempt, reserved, reason="malformed client address")
            raise ProblemError(
                400,
                "the client address is not an IP address",
                slug="invalid-request",
                extra={"error": "invalid_request", "error_description": "malformed client address"},
            )
        credentials = await check_password(reserved, password)
        if credentials is None:
            self._failed(attempt, reserved)
            return None
        await auth.record_login_success(
            self.pool, attempt.account, attempt.address, self.max_failures_per_address
        )
        return credentials

    async def _release(self, attempt: Attempt, *, address: bool) -> None:
        await auth.release_login_attempt(
            self.pool,
            attempt.account,
            self.max_failures,
            attempt.address if address else None,
            self.max_failures_per_address,
        )

    @staticmethod
    def _failed(attempt: Attempt, reserved: LoginReservation, **fields: str) -> None:
        """A failure that counts: each is one `login_failed` event."""
        security_event(
            "login_failed",
            client_address=attempt.client_ip[:64],
            user_id=reserved.user_id,
            **fields,
        )

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
    """One login attempt: its hashed subjects, and whether its request has been cancelled."""

    def __init__(self, email: str, client_ip: str) -> None:
        address = address_subject(client_ip)
        self.client_ip = client_ip
        self.malformed = address is None  # counted under its own text, then refused
        self.account = subject_hash("account", email)
        self.address = subject_hash(
            "address", address if address is not None else f"malformed:{client_ip}"
        )
        self.lookup = email if len(email) <= _MAX_EMAIL_LENGTH and "\x00" not in email else None
        self.abandoned = False


async def unlock(pool: asyncpg.Pool, email: str) -> bool:
    """Forget the attempts counted against the account `email`; False when there were none."""
    return await auth.clear_login_attempts(pool, subject_hash("account", email))
