"""Handlers for /api/v1/auth/token, /api/v1/users and /api/v1/api-keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import asyncpg
from blacksheep import Request, Response

from api.auth import keys, tokens
from api.auth.accounts import create_user
from api.auth.events import security_event
from api.auth.principal import ADMIN, KEYS_MANAGE
from api.auth.service import Authenticator
from api.auth.throttle import LoginThrottle
from api.contracts.keys import CreatedApiKey, KeyListQuery, NewApiKey, clean_name
from api.contracts.users import TOKEN_FORM_BYTES, NewUser, TokenResponse, normalize_email
from api.cursor import decode_time_cursor, next_link
from api.http import encode, json_response, path_uuid, read_body, read_json, read_query
from api.problems import ProblemError, invalid
from api.tally import login_failed
from queries import api_keys, users

# Responses that carry credentials must not be cached (RFC 6749 section 5.1).
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_NO_STORE_RAW = [(name.lower().encode(), value.encode()) for name, value in _NO_STORE.items()]
KEYS_PATH = "/api/v1/api-keys"


def oauth_error(status: int, error: str, description: str) -> ProblemError:
    """An OAuth2 error (RFC 6749 section 5.2) carried inside a problem document."""
    return ProblemError(
        status,
        description,
        slug=error.replace("_", "-"),
        headers=dict(_NO_STORE),
        extra={"error": error, "error_description": description},
    )


class IdentityHandlers:
    def __init__(
        self,
        pool: asyncpg.Pool,
        auth: Authenticator,
        throttle: LoginThrottle,
        token_ttl_seconds: int,
        max_body_bytes: int,
        key_max_ttl: timedelta,
        keys_max_per_user: int,
    ) -> None:
        self.pool = pool
        self.key_max_ttl = key_max_ttl
        self.keys_max_per_user = keys_max_per_user
        self.auth = auth
        self.throttle = throttle
        self.token_ttl_seconds = token_ttl_seconds
        self.max_body_bytes = max_body_bytes

    async def token(self, request: Request) -> Response:
        """OAuth2 password grant (RFC 6749 section 4.3)."""
        body = await read_body(request, TOKEN_FORM_BYTES, form=True)
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "password":
            raise oauth_error(400, "unsupported_grant_type", "grant_type must be 'password'")
        username, password = form.get("username"), form.get("password")
        if not username or not password:
            raise oauth_error(400, "invalid_request", "username and password are required")
        email = normalize_email(username)
        credentials = await self.throttle.login(email, client_address(request), password)
        if credentials is None:
            login_failed()
            raise oauth_error(400, "invalid_grant", "invalid username or password")
        granted = set(credentials.scopes)
        requested = form.get("scope")
        if requested is not None:
            wanted = set(requested.split())
            if not wanted <= granted:
                extra = " ".join(sorted(wanted - granted))[:200]
                raise oauth_error(400, "invalid_scope", f"scopes not granted to this user: {extra}")
            granted = wanted
        scopes = sorted(granted)
        token = tokens.issue(
            self.auth.secret_key,
            credentials.id,
            scopes,
            self.token_ttl_seconds,
            credentials.token_generation,
        )
        body_out = TokenResponse(token, "bearer", self.token_ttl_seconds, " ".join(scopes))
        return json_response(200, encode(body_out), list(_NO_STORE_RAW))

    async def me(self, request: Request) -> Response:
        principal = await self.auth.authenticate(request)
        user = await users.get_by_id(self.pool, principal.user_id)
        if user is None:
            raise ProblemError(404, "your user no longer exists")
        return json_response(200, encode(user))

    async def get_user(self, request: Request) -> Response:
        """A user, to that user or to an admin."""
        principal = await self.auth.authenticate(request)
        user_id = path_uuid(request)
        if user_id != principal.user_id and not principal.is_admin:
            raise ProblemError(
                403, "only the user themself or an admin may read a user", slug="not-yourself"
            )
        user = await users.get_by_id(self.pool, user_id)
        if user is None:
            raise ProblemError(404, f"no user with id {user_id}")
        return json_response(200, encode(user))

    async def create_user(self, request: Request) -> Response:
        admin = (await self.auth.authenticate(request)).require(ADMIN)
        new = await read_json(request, NewUser, self.max_body_bytes)
        user = await create_user(self.pool, new)
        security_event(
            "user_created",
            client_address=client_address(request),
            user_id=user.id,
            actor_id=admin.user_id,
            key_id=admin.key_id,
        )
        return json_response(
            201, encode(user), [(b"location", b"/api/v1/users/" + str(user.id).encode())]
        )

    async def create_api_key(self, request: Request) -> Response:
        principal = (await self.auth.authenticate(request)).require(KEYS_MANAGE)
        new = await read_json(request, NewApiKey, self.max_body_bytes)
        name = clean_name(new.name)
        scopes = sorted(set(new.scopes if new.scopes is not None else principal.scopes))
        beyond = [scope for scope in scopes if not principal.has(scope)]
        if beyond:
            raise ProblemError(
                403,
                f"an API key cannot have scopes its creator lacks: {', '.join(beyond)}",
                slug="scope-escalation",
            )
        now = datetime.now(UTC)
        latest = now + self.key_max_ttl
        if new.expires_at is not None and new.expires_at <= now:
            raise _expiry_problem("must be in the future")
        if new.expires_at is not None and new.expires_at > latest:
            days = self.key_max_ttl.days
            raise _expiry_problem(f"must be at most {days} days ahead (API_KEY_MAX_TTL_DAYS)")
        expires_at = new.expires_at or latest
        limit = principal.key_expires_at
        if limit is not None:  # a key made with a key may not outlive it
            if new.expires_at is not None and new.expires_at > limit:
                raise ProblemError(
                    403,
                    f"an API key cannot outlive the key that creates it ({limit.isoformat()})",
                    slug="lifetime-escalation",
                )
            expires_at = min(expires_at, limit)
        secret = keys.new_key()
        stored = await api_keys.create(
            self.pool,
            principal.user_id,
            name,
            keys.shown_prefix(secret),
            keys.hash_key(self.auth.pepper, secret),
            scopes,
            expires_at,
            principal.key_id,
            max_ttl_days=self.key_max_ttl.days,
            max_per_user=self.keys_max_per_user,
        )
        if stored is None:
            raise ProblemError(
                403,
                f"a user may have at most {self.keys_max_per_user} API keys that still work"
                " (API_KEYS_MAX_PER_USER); revoking one of them frees a place",
                slug="api-key-limit",
            )
        security_event(
            "api_key_created",
            client_address=client_address(request),
            user_id=principal.user_id,
            key_id=stored.id,
            parent_key_id=principal.key_id,
        )
        created = CreatedApiKey(
            stored.id,
            stored.name,
            stored.prefix,
            stored.scopes,
            stored.expires_at,
            stored.created_at,
            secret,
        )
        # Cache-Control: no-store comes with every authenticated answer (api.middleware).
        return json_response(201, encode(created), [(b"pragma", b"no-cache")])

    async def list_api_keys(self, request: Request) -> Response:
        """A page of the keys the caller may manage: with the user's token all the user's keys,
        with a key that key and the keys created with it."""
        principal = (await self.auth.authenticate(request)).require(KEYS_MANAGE)
        query = read_query(request, KeyListQuery)
        where = api_keys.KeyFilter(principal.user_id, principal.key_id)
        after = None if query.cursor is None else decode_time_cursor(query.cursor, where)
        page = await api_keys.find(self.pool, where, query.limit, after)
        headers = []
        if page.next_key is not None:
            headers.append(next_link(request, KEYS_PATH, page.next_key, where))
        return json_response(200, encode(page.keys), headers)

    async def revoke_api_key(self, request: Request) -> Response:
        principal = (await self.auth.authenticate(request)).require(KEYS_MANAGE)
        key_id = path_uuid(request)
        revoked = await api_keys.revoke(
            self.pool, key_id, principal.user_id, principal.is_admin, principal.key_id
        )
        if not revoked:
            raise ProblemError(404, f"you have no API key with id {key_id}")
        address = client_address(request)
        for gone in revoked:  # the key and every key created with it, down the chain
            self.auth.forget_key(gone)
            security_event(
                "api_key_revoked",
                client_address=address,
                user_id=principal.user_id,
                key_id=gone,
                revoked_with=key_id,
            )
        return Response(204, None, None)


def client_address(request: Request) -> str:
    """The client's address as uvicorn gives it: the TCP peer, or the X-Forwarded-For entry a
    proxy in FORWARDED_ALLOW_IPS added. Empty when there is none (a Unix socket)."""
    client = request.scope.get("client")
    return str(client[0]) if client else ""


def _expiry_problem(message: str) -> ProblemError:
    return invalid("$.expires_at", message)
