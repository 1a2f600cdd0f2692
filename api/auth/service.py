"""Turns the credential on a request into a Principal, with a short-lived cache.

Tokens are verified locally (a signature check); whether their user is still enabled and still
in the token's generation (no password change since), and an API key's owner and scopes, come
from PostgreSQL at most once per `cache_seconds` per process. A revocation, a disabled user or a
password change therefore takes effect within `cache_seconds` in every process, and at once in
the process that revoked the key.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Generic, TypeVar
from uuid import UUID

import asyncpg
from blacksheep import Request

from api import logs
from api.auth import keys, tokens
from api.auth.principal import Principal
from api.fairshare import PrincipalSlots
from api.problems import ProblemError
from queries import api_keys, users

K = TypeVar("K")
V = TypeVar("V")
_MAX_CACHED = 10_000
# A key's last_used_at is written at most once per this many seconds, by all processes together:
# a key in use is not a write per request. An unknown or refused key is never a write.
LAST_USED_RESOLUTION_SECONDS = 60.0


class ExpiringCache(Generic[K, V]):
    """A small dict whose entries expire; the oldest entry goes when it is full."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)  # entry()'s work, without a call: once per request
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            del self._entries[key]
            return None
        return entry[1]

    def entry(self, key: K) -> tuple[float, V] | None:
        """(the time.monotonic() at which it expires, the value), or None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            del self._entries[key]
            return None
        return entry

    def put(self, key: K, value: V, until: float | None = None) -> None:
        """Keep `value` for `seconds`, or until the time.monotonic() `until` when sooner."""
        now = time.monotonic()
        deadline = now + self.seconds if until is None else min(now + self.seconds, until)
        if deadline <= now:
            return
        if len(self._entries) >= _MAX_CACHED:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (deadline, value)

    def discard(self, key: K) -> None:
        self._entries.pop(key, None)

    def discard_where(self, doomed: Callable[[V], bool]) -> None:
        for key in [key for key, (_, value) in self._entries.items() if doomed(value)]:
            del self._entries[key]

    def clear(self) -> None:
        self._entries.clear()


def unauthorized(detail: str, *, invalid: bool = True) -> ProblemError:
    challenge = 'Bearer realm="items-api"'
    if invalid:
        description = detail.replace('"', "'")
        challenge += f', error="invalid_token", error_description="{description}"'
    return ProblemError(401, detail, slug="unauthorized", headers={"WWW-Authenticate": challenge})


class Authenticator:
    def __init__(
        self,
        pool: asyncpg.Pool,
        secret_key: str,
        cache_seconds: float,
        key_max_ttl_days: int,
        slots: PrincipalSlots,
    ) -> None:
        self.pool = pool
        self.slots = slots
        self.key_max_ttl_days = key_max_ttl_days
        self.secret_key = secret_key
        self.pepper = keys.derive_pepper(secret_key)
        # Only live credentials are cached: user id -> (scopes, token generation) of an enabled
        # user, a verified token -> its principal (which saves the signature check), a live key
        # -> its principal (which saves the HMAC; like tokens, keys are in this process's memory
        # with each request anyway, and the cache is never written anywhere).
        self.user_scopes: ExpiringCache[UUID, tuple[frozenset[str], int]] = ExpiringCache(
            cache_seconds
        )
        self.token_principals: ExpiringCache[str, Principal] = ExpiringCache(cache_seconds)
        self.key_principals: ExpiringCache[str, Principal] = ExpiringCache(cache_seconds)
        # Bumped by every revocation: a key looked up before one is not cached after it, as the
        # lookup may have seen the key still live.
        self.revocations = 0

    def forget_everything(self) -> None:
        """Drop every cached credential, as if AUTH_CACHE_SECONDS had passed."""
        self.user_scopes.clear()
        self.token_principals.clear()
        self.key_principals.clear()

    async def authenticate(self, request: Request) -> Principal:
        """The caller's Principal; 401 for a missing, malformed, expired or revoked credential,
        429 when its user has PRINCIPAL_MAX_CONCURRENCY requests in progress already."""
        credential = _credential(request)
        # A cached principal is found without a coroutine of its own: most requests come here.
        if keys.looks_like_key(credential):
            principal = self.key_principals.get(credential)
            if principal is None:
                principal = await self._from_key(credential)
        else:
            principal = self.token_principals.get(credential)
            if principal is None:
                principal = await self._from_token(credential)
        fields = logs.request_fields.get()
        if fields is not None:
            fields["principal"] = principal.user_id_text
        self.slots.take(request, principal.user_id_text)
        return principal

    async def _from_token(self, token: str) -> Principal:
        """The principal of a token not in the cache."""
        try:
            claims = tokens.verify(self.secret_key, token)
        except tokens.InvalidToken as exc:
            raise unauthorized(str(exc)) from None
        current = await self._current_scopes(claims.user_id)
        if current is not None and claims.generation > current[0][1]:
            # Issued after a password change this process has not seen yet: read the user again,
            # and forget the principals of the user's older tokens.
            self.user_scopes.discard(claims.user_id)
            self.token_principals.discard_where(lambda known: known.user_id == claims.user_id)
            current = await self._current_scopes(claims.user_id)
        if current is None:
            raise unauthorized("the user of this token is disabled or no longer exists")
        (scopes, generation), scopes_until = current
        if claims.generation != generation:
            raise unauthorized("the token was issued before its user's password changed")
        principal = Principal(claims.user_id, scopes & claims.scopes, "token")
        # Never beyond the user entry it was built from: a disable or a scope change reaches
        # this token within AUTH_CACHE_SECONDS, not twice that.
        token_until = time.monotonic() + claims.expires_at + tokens.LEEWAY_SECONDS - time.time()
        self.token_principals.put(token, principal, min(scopes_until, token_until))
        return principal

    async def _current_scopes(
        self, user_id: UUID
    ) -> tuple[tuple[frozenset[str], int], float] | None:
        """((the scopes, the token generation) of an enabled user, the time.monotonic() until
        which they are trusted); None for a disabled or deleted user."""
        entry = self.user_scopes.entry(user_id)
        if entry is not None:
            return entry[1], entry[0]
        user = await users.get_token_check(self.pool, user_id)
        if user is None:
            return None
        current = (frozenset(user.scopes), user.token_generation)
        until = time.monotonic() + self.user_scopes.seconds
        self.user_scopes.put(user_id, current, until)
        return current, until

    async def _from_key(self, key: str) -> Principal:
        """The principal of an API key not in the cache."""
        revocations = self.revocations
        owner = await api_keys.authenticate(
            self.pool,
            keys.hash_key(self.pepper, key),
            self.key_max_ttl_days,
            LAST_USED_RESOLUTION_SECONDS,
        )
        if owner is None:
            raise unauthorized("the API key is unknown, revoked or expired")
        if owner.use_stale:
            await api_keys.record_use(self.pool, owner.key_id, LAST_USED_RESOLUTION_SECONDS)
        principal = Principal(
            owner.user_id,
            frozenset(owner.scopes) & frozenset(owner.user_scopes),
            "api_key",
            owner.key_id,
            owner.expires_at,
        )
        lifetime = (owner.expires_at - datetime.now(UTC)).total_seconds()
        if revocations == self.revocations:
            self.key_principals.put(key, principal, time.monotonic() + lifetime)
        return principal

    def forget_key(self, key_id: UUID) -> None:
        self.revocations += 1
        self.key_principals.discard_where(lambda principal: principal.key_id == key_id)


def _credential(request: Request) -> str:
    api_key = request.get_first_header(b"x-api-key")
    if api_key is not None:
        if not api_key.strip():
            raise unauthorized("the X-API-Key header is empty")
        return api_key.decode("latin-1").strip()
    authorization = request.get_first_header(b"authorization")
    if authorization is None:
        raise unauthorized(
            "authentication required: send Authorization: Bearer <token> or X-API-Key: <key>",
            invalid=False,
        )
    scheme, _, credential = authorization.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise unauthorized("the Authorization header must be: Bearer <token or API key>")
    return credential.strip()
