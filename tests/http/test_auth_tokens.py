"""The token endpoint, JWT verification, users, scopes and ownership, over HTTP with real tokens."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import string
import sys
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from blacksheep import Request

from api.auth import tokens
from api.auth.service import Authenticator
from api.auth.throttle import LoginThrottle
from api.fairshare import PrincipalSlots
from api.problems import ProblemError
from queries import users
from tests.conftest import PASSWORD, TEST_SECRET_KEY, Account, ClientAt, MakeUser, problem

TOKEN_URL = "/api/v1/auth/token"
ITEMS = "/api/v1/items"
OTHER_KEY = "another-secret-key-that-is-long-enough-0123456789"


async def login(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD, **extra: str
) -> httpx.Response:
    return await client.post(
        TOKEN_URL,
        data={"grant_type": "password", "username": username, "password": password, **extra},
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims_for(user_id: uuid.UUID, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": tokens.ISSUER,
        "sub": str(user_id),
        "scope": "items:read items:write",
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "gen": 0,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def sign(claims: dict[str, Any], key: str = TEST_SECRET_KEY, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unauthorized(response: httpx.Response) -> dict[str, Any]:
    body = problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    return body


async def create_item(
    client: httpx.AsyncClient, user: Account, name: str = "Mine"
) -> dict[str, Any]:
    response = await client.post(ITEMS, json={"name": name}, headers=user.headers)
    assert response.status_code == 201, response.text
    item: dict[str, Any] = response.json()
    return item


# --- the token endpoint ----------------------------------------------------------------------


async def test_password_grant_answers_a_working_bearer_token(
    client: httpx.AsyncClient, alice: Account, settings: Any
) -> None:
    response = await login(client, "ALICE@Example.com")  # emails are case-insensitive
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.access_token_ttl_seconds
    assert body["scope"] == "items:read items:write keys:manage"
    assert response.headers["cache-control"] == "no-store"

    token = body["access_token"]
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(token, TEST_SECRET_KEY, algorithms=["HS256"], issuer=tokens.ISSUER)
    assert claims["sub"] == str(alice.id)
    assert claims["scope"] == "items:read items:write keys:manage"
    assert claims["exp"] - claims["iat"] == settings.access_token_ttl_seconds
    assert claims["jti"]

    me = await client.get("/api/v1/users/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.json()["id"] == str(alice.id)

    again = (await login(client, alice.email)).json()["access_token"]
    assert jwt.decode(again, TEST_SECRET_KEY, algorithms=["HS256"])["jti"] != claims["jti"]


async def test_requested_scope_narrows_the_token(client: httpx.AsyncClient, alice: Account) -> None:
    response = await login(client, alice.email, scope="items:read")
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "items:read"
    token = response.json()["access_token"]
    assert (await client.get(ITEMS, headers=bearer(token))).status_code == 200
    body = problem(await client.post(ITEMS, json={"name": "x"}, headers=bearer(token)), 403)
    assert "items:write" in body["detail"]


async def test_scope_beyond_the_users_is_invalid_scope(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await login(client, alice.email, scope="items:read admin")
    body = problem(response, 400)
    assert body["error"] == "invalid_scope"
    assert "admin" in body["error_description"]
    assert "access_token" not in body


async def test_wrong_credentials_answer_identical_invalid_grant(
    client: httpx.AsyncClient, alice: Account, make_user: MakeUser, app: Any
) -> None:
    disabled = await make_user("disabled@example.com")
    await users.set_disabled(app.state.pool, disabled.email, True)

    wrong_password = await login(client, alice.email, "not the password at all")
    unknown_user = await login(client, "nobody@example.com")
    disabled_user = await login(client, disabled.email)  # the right password, but disabled

    body = problem(wrong_password, 400)
    assert body["error"] == "invalid_grant"
    assert body["error_description"]
    for other in (unknown_user, disabled_user):
        assert other.status_code == wrong_password.status_code
        assert other.content == wrong_password.content
        for header in ("content-type", "cache-control", "www-authenticate"):
            assert other.headers.get(header) == wrong_password.headers.get(header)
    assert wrong_password.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("form", "error"),
    [
        (
            {"grant_type": "client_credentials", "username": "a@b.c", "password": "x"},
            "unsupported_grant_type",
        ),
        ({"username": "a@b.c", "password": "x"}, "unsupported_grant_type"),
        ({"grant_type": "password", "username": "a@b.c"}, "invalid_request"),
        ({"grant_type": "password", "password": "x"}, "invalid_request"),
    ],
)
async def test_malformed_token_requests_are_oauth_errors(
    client: httpx.AsyncClient, form: dict[str, str], error: str
) -> None:
    body = problem(await client.post(TOKEN_URL, data=form), 400)
    assert body["error"] == error


async def test_token_endpoint_refuses_a_json_body(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.post(
        TOKEN_URL, json={"grant_type": "password", "username": alice.email, "password": PASSWORD}
    )
    problem(response, 415)
    assert "x-www-form-urlencoded" in response.headers["accept-post"]


async def test_failed_logins_for_one_account_are_throttled(
    client_at: ClientAt, alice: Account, bob: Account, settings: Any
) -> None:
    # Each attempt comes from its own address, so only the account's counter fills up.
    for attempt in range(settings.login_max_failures):
        wrong = await login(client_at(f"198.51.100.{attempt + 1}"), alice.email, "wrong password")
        assert problem(wrong, 400)["error"] == "invalid_grant"

    blocked = await login(client_at("198.51.100.200"), alice.email)  # even the right password
    problem(blocked, 429)
    assert 1 <= int(blocked.headers["retry-after"]) <= settings.login_window_seconds
    assert "access_token" not in blocked.json()

    # Another account from one of the same addresses is not affected.
    assert (await login(client_at("198.51.100.1"), bob.email)).status_code == 200


async def test_failures_on_other_accounts_never_block_a_correct_password(
    client_at: ClientAt, alice: Account, settings: Any
) -> None:
    """Finding: five failures for five other (even non-existent) accounts from one address made
    the next correct login from that address 429 for 300 s: behind a proxy, anyone locked
    everyone out with five requests."""
    shared = client_at("192.0.2.66")  # a proxy's address, shared by attacker and victim
    for attempt in range(settings.login_max_failures * 3):
        wrong = await login(shared, f"guess{attempt}@example.com", "wrong password")
        assert problem(wrong, 400)["error"] == "invalid_grant"
    assert (await login(shared, alice.email)).status_code == 200


async def test_an_address_over_its_own_limit_is_throttled(
    app: Any, client_at: ClientAt, alice: Account
) -> None:
    """An address is blocked only past LOGIN_MAX_FAILURES_PER_ADDRESS, however many accounts
    its failures were spread over; other addresses are not affected."""
    limited = LoginThrottle(app.state.pool, 5, 3, 300)
    for attempt in range(3):  # three wrong passwords: each stays counted
        assert await limited.login(f"guess{attempt}@example.com", "192.0.2.70", "wrong") is None
    with pytest.raises(ProblemError) as blocked:
        await limited.login(alice.email, "192.0.2.70", PASSWORD)
    assert blocked.value.status == 429
    assert 1 <= int(blocked.value.headers["Retry-After"]) <= 300
    # The account's own counter was given back: alice still logs in from elsewhere.
    assert (await login(client_at("192.0.2.71"), alice.email)).status_code == 200


async def test_concurrent_wrong_passwords_verify_at_most_the_limit(
    client_at: ClientAt, alice: Account, settings: Any
) -> None:
    """Finding: the limit was checked before the password and recorded after it, so 40
    simultaneous wrong passwords were all verified, and 19 wrong + 1 right got a token."""
    guesses = [
        login(client_at(f"198.51.100.{n + 1}"), alice.email, f"wrong password {n}")
        for n in range(40)
    ]
    answers = await asyncio.gather(*guesses)
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses.count(400) == settings.login_max_failures, statuses  # verified, wrong
    assert statuses.count(429) == 40 - settings.login_max_failures
    # The right password, now: the account is locked, whoever asks.
    assert (await login(client_at("198.51.100.200"), alice.email)).status_code == 429


async def test_a_burst_with_the_right_password_verifies_at_most_the_limit(
    client_at: ClientAt, alice: Account, settings: Any
) -> None:
    passwords = [f"wrong password {n}" for n in range(19)] + [PASSWORD]
    answers = await asyncio.gather(
        *(login(client_at(f"198.51.100.{n + 1}"), alice.email, p) for n, p in enumerate(passwords))
    )
    verified = [a for a in answers if a.status_code != 429]
    assert len(verified) <= settings.login_max_failures
    refused = [a for a in answers if a.status_code == 429]
    assert len(refused) >= 20 - settings.login_max_failures
    # Attempts still being verified count too: the refusal must not claim they all failed.
    assert "still being checked" in refused[0].json()["detail"]


@pytest.mark.parametrize(
    "forwarded",
    [
        "".join(random.choices(string.ascii_letters + string.digits, k=4000)),
        "not an address",
        "999.1.1.1",
        "\u00e9\u00e9",
    ],
)
async def test_a_malformed_or_huge_client_address_is_400_and_still_counted(
    app: Any, client_at: ClientAt, alice: Account, settings: Any, forwarded: str
) -> None:
    """Finding: an X-Forwarded-For of 4,000 characters made every failed login a 500 (the
    throttle key exceeded the btree row limit), so nothing was counted: unlimited guesses. Now
    the key is a hash and a malformed address is refused, after counting, never verified."""
    attacker = client_at(forwarded)  # what uvicorn's proxy middleware would hand the app
    for _ in range(settings.login_max_failures):
        answer = await login(attacker, alice.email, "wrong password")
        assert problem(answer, 400)["error"] == "invalid_request"
    # Counted against the account: now even the right password is refused, from anywhere.
    problem(await login(client_at("198.51.100.9"), alice.email), 429)


@pytest.mark.parametrize(
    "username",
    ["a" * 6000 + "@example.com", "x" * 300, "nul\x00byte@example.com", "\u00e9" * 2000],
)
async def test_an_oversized_or_odd_username_is_400_and_counted(
    client_at: ClientAt, username: str, settings: Any
) -> None:
    """Finding: a 6,000-character username answered 500."""
    client = client_at("198.51.100.77")
    for _ in range(settings.login_max_failures):
        answer = await login(client, username, "wrong password")
        assert problem(answer, 400)["error"] == "invalid_grant"
    problem(await login(client, username, "wrong password"), 429)


async def test_users_unlock_lifts_an_accounts_lock(
    client_at: ClientAt, alice: Account, settings: Any, database_url: str
) -> None:
    for n in range(settings.login_max_failures):
        await login(client_at(f"198.51.100.{n + 1}"), alice.email, "wrong password")
    problem(await login(client_at("198.51.100.100"), alice.email), 429)

    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "api", "users", "unlock", alice.email.upper()),
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err
    assert f"unlocked {alice.email}" in out.decode()
    lines = err.decode().splitlines()
    (event,) = [json.loads(line) for line in lines if "user_unlocked" in line]
    assert event["event"] == "user_unlocked"
    assert event["user_id"] == str(alice.id)
    assert (await login(client_at("198.51.100.100"), alice.email)).status_code == 200


# --- refused credentials ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", ITEMS),
        ("POST", ITEMS),
        ("POST", f"{ITEMS}/batch"),
        ("GET", f"{ITEMS}/{uuid.UUID(int=1)}"),
        ("PUT", f"{ITEMS}/{uuid.UUID(int=1)}"),
        ("PATCH", f"{ITEMS}/{uuid.UUID(int=1)}"),
        ("DELETE", f"{ITEMS}/{uuid.UUID(int=1)}"),
        ("GET", "/api/v1/users/me"),
        ("POST", "/api/v1/users"),
        ("GET", "/api/v1/api-keys"),
        ("POST", "/api/v1/api-keys"),
        ("DELETE", f"/api/v1/api-keys/{uuid.UUID(int=1)}"),
    ],
)
async def test_every_protected_endpoint_needs_a_credential(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path, json={"name": "x"})
    unauthorized(response)
    assert response.headers["www-authenticate"] == 'Bearer realm="items-api"'


async def test_alg_none_is_refused(client: httpx.AsyncClient, admin: Account) -> None:
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims_for(admin.id, scope="admin")).encode())
    for token in (f"{header}.{payload}.", f"{header}.{payload}"):
        unauthorized(await client.get(ITEMS, headers=bearer(token)))


async def test_another_algorithm_with_the_same_secret_is_refused(
    client: httpx.AsyncClient, alice: Account
) -> None:
    token = sign(claims_for(alice.id), alg="HS384")
    body = unauthorized(await client.get(ITEMS, headers=bearer(token)))
    assert (
        "invalid_token"
        in (await client.get(ITEMS, headers=bearer(token))).headers["www-authenticate"]
    )
    assert body["detail"]


async def test_a_token_signed_with_another_key_is_refused(
    client: httpx.AsyncClient, alice: Account
) -> None:
    token = sign(claims_for(alice.id), key=OTHER_KEY)
    unauthorized(await client.get(ITEMS, headers=bearer(token)))
    # The same claims with the right key pass: only the signature made the difference.
    assert (await client.get(ITEMS, headers=bearer(sign(claims_for(alice.id))))).status_code == 200


async def test_an_expired_token_is_refused_beyond_the_leeway(
    client: httpx.AsyncClient, alice: Account
) -> None:
    now = int(time.time())
    expired = sign(claims_for(alice.id, iat=now - 3600, exp=now - 5 * tokens.LEEWAY_SECONDS))
    body = unauthorized(await client.get(ITEMS, headers=bearer(expired)))
    assert "expired" in body["detail"]
    # Within the small leeway a just-expired token still passes (clock skew between hosts).
    just_expired = sign(claims_for(alice.id, iat=now - 3600, exp=now - 1))
    assert (await client.get(ITEMS, headers=bearer(just_expired))).status_code == 200


async def test_a_tampered_payload_is_refused(client: httpx.AsyncClient, alice: Account) -> None:
    header, payload, signature = alice.token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = "items:read items:write admin"
    forged = f"{header}.{b64(json.dumps(claims).encode())}.{signature}"
    unauthorized(await client.get(ITEMS, headers=bearer(forged)))
    unauthorized(await client.get(ITEMS, headers=bearer(alice.token[:-2] + "xx")))
    assert (await client.get(ITEMS, headers=alice.headers)).status_code == 200


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "jti", "iss", "scope"])
async def test_a_token_missing_a_claim_is_refused(
    client: httpx.AsyncClient, alice: Account, missing: str
) -> None:
    token = sign(claims_for(alice.id, **{missing: None}))
    unauthorized(await client.get(ITEMS, headers=bearer(token)))


@pytest.mark.parametrize(
    "overrides",
    [
        {"sub": "not-a-uuid"},
        {"sub": 42},
        {"iss": "someone-else"},
        {"scope": ["items:read"]},
        {"exp": "tomorrow"},
        {"gen": "0"},
        {"gen": 0.5},
        {"gen": True},
        {"gen": 1},  # alice's generation is 0: a generation she never had
    ],
)
async def test_a_token_with_a_bad_claim_is_refused(
    client: httpx.AsyncClient, alice: Account, overrides: dict[str, Any]
) -> None:
    unauthorized(await client.get(ITEMS, headers=bearer(sign(claims_for(alice.id, **overrides)))))


async def test_a_token_of_an_unknown_user_is_refused(client: httpx.AsyncClient) -> None:
    unauthorized(await client.get(ITEMS, headers=bearer(sign(claims_for(uuid.uuid4())))))


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic YWxpY2U6cGFzc3dvcmQ=",
        "Token abc",
        "Bearer",
        "Bearer ",
        "bearer-token",
        "Bearer not.a.jwt",
    ],
)
async def test_a_malformed_authorization_header_is_refused(
    client: httpx.AsyncClient, authorization: str
) -> None:
    response = await client.get(ITEMS, headers={"Authorization": authorization})
    unauthorized(response)
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_an_empty_api_key_header_is_named_as_such(client: httpx.AsyncClient) -> None:
    """Finding: an empty X-API-Key was "the token is malformed"."""
    body = unauthorized(await client.get(ITEMS, headers={"X-API-Key": " "}))
    assert body["detail"] == "the X-API-Key header is empty"


async def test_the_scheme_name_is_case_insensitive(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.get(ITEMS, headers={"Authorization": f"bearer {alice.token}"})
    assert response.status_code == 200


async def test_tokens_of_a_disabled_user_are_refused(
    client: httpx.AsyncClient, alice: Account, app: Any
) -> None:
    assert (await client.get(ITEMS, headers=alice.headers)).status_code == 200
    await users.set_disabled(app.state.pool, alice.email, True)
    # The per-process cache keeps an enabled user for at most AUTH_CACHE_SECONDS; clearing it
    # stands for that bound passing.
    app.state.authenticator.forget_everything()
    body = unauthorized(await client.get(ITEMS, headers=alice.headers))
    assert "disabled" in body["detail"]


async def test_a_password_change_ends_every_token_issued_before_it(
    client: httpx.AsyncClient, alice: Account, app: Any, password_hash: str
) -> None:
    """Finding: tokens outlived a password change until they expired (OWASP ASVS 4.0 V3.3.3:
    a password change ends the other sessions). API keys are credentials of their own and stay."""
    issued = (await login(client, alice.email)).json()["access_token"]
    key = await client.post(
        "/api/v1/api-keys", json={"name": "ci", "scopes": ["items:read"]}, headers=alice.headers
    )
    assert key.status_code == 201, key.text
    assert (await client.get(ITEMS, headers=bearer(issued))).status_code == 200
    assert await users.set_password(app.state.pool, alice.email, password_hash) == alice.id
    app.state.authenticator.forget_everything()  # stands for AUTH_CACHE_SECONDS passing
    for old in (issued, alice.token):
        body = unauthorized(await client.get(ITEMS, headers=bearer(old)))
        assert "password changed" in body["detail"]
    fresh = (await login(client, alice.email)).json()["access_token"]
    assert jwt.decode(fresh, TEST_SECRET_KEY, algorithms=["HS256"])["gen"] == 1
    assert (await client.get(ITEMS, headers=bearer(fresh))).status_code == 200
    assert (await client.get(ITEMS, headers={"X-API-Key": key.json()["key"]})).status_code == 200


async def test_a_token_issued_after_a_password_change_works_at_once(
    client: httpx.AsyncClient, alice: Account, app: Any, password_hash: str
) -> None:
    """Finding: this process still had alice's user entry of before the change cached, so her
    new token was refused as "issued before its user's password changed" for AUTH_CACHE_SECONDS."""
    assert (await client.get(ITEMS, headers=alice.headers)).status_code == 200  # caches her
    await users.set_password(app.state.pool, alice.email, password_hash)  # as the CLI does
    fresh = (await login(client, alice.email)).json()["access_token"]
    assert (await client.get(ITEMS, headers=bearer(fresh))).status_code == 200
    # And the old token, once the cache holds the new generation, is refused.
    unauthorized(await client.get(ITEMS, headers=alice.headers))


async def test_a_token_from_before_generations_counts_as_the_first(
    client: httpx.AsyncClient, alice: Account, app: Any, password_hash: str
) -> None:
    claims = claims_for(alice.id)
    claims.pop("gen", None)
    legacy = sign(claims)
    assert (await client.get(ITEMS, headers=bearer(legacy))).status_code == 200
    await users.set_password(app.state.pool, alice.email, password_hash)
    app.state.authenticator.forget_everything()
    unauthorized(await client.get(ITEMS, headers=bearer(legacy)))


async def test_scopes_taken_from_a_user_are_gone_from_their_tokens(
    client: httpx.AsyncClient, make_user: MakeUser, app: Any
) -> None:
    """A token keeps the scopes it was issued with, but the user's current scopes bound them."""
    carol = await make_user("carol@example.com", scopes=("items:read", "items:write", "admin"))
    async with app.state.pool.acquire() as connection:
        await connection.execute("UPDATE users SET scopes = '{items:read}' WHERE id = $1", carol.id)
    app.state.authenticator.forget_everything()  # stands for AUTH_CACHE_SECONDS passing
    problem(await client.post(ITEMS, json={"name": "x"}, headers=carol.headers), 403)
    assert (await client.get(ITEMS, headers=carol.headers)).status_code == 200


async def test_a_new_tokens_principal_never_outlives_the_user_entry_it_was_built_from(
    app: Any, alice: Account
) -> None:
    """Finding: a disable took up to 2 x AUTH_CACHE_SECONDS for a token first used after it (its
    principal was cached a full period on top of a user entry about to expire)."""
    cache = 1.0
    auth = Authenticator(app.state.pool, TEST_SECRET_KEY, cache, 365, PrincipalSlots(4))
    first = alice.token
    second = tokens.issue(TEST_SECRET_KEY, alice.id, alice.scopes, 3600, 0)

    def request(token: str) -> Request:
        return Request("GET", b"/", [(b"authorization", f"Bearer {token}".encode())])

    await auth.authenticate(request(first))  # caches alice's user entry for `cache` seconds
    await asyncio.sleep(cache * 0.6)
    await users.set_disabled(app.state.pool, alice.email, True)
    await auth.authenticate(request(second))  # first use, from the cached (older) user entry
    await asyncio.sleep(cache * 0.6)  # the user entry has expired; the change is < cache old
    for token in (first, second):
        with pytest.raises(ProblemError) as refused:
            await auth.authenticate(request(token))
        assert refused.value.status == 401


# --- users -----------------------------------------------------------------------------------


async def test_me_answers_the_callers_profile_without_secrets(
    client: httpx.AsyncClient, alice: Account
) -> None:
    response = await client.get("/api/v1/users/me", headers=alice.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(alice.id)
    assert body["email"] == alice.email
    assert body["scopes"] == ["items:read", "items:write", "keys:manage"]
    assert body["disabled"] is False
    assert not any("password" in key or "hash" in key for key in body)
    assert "$argon2" not in response.text


async def test_admin_creates_a_user_who_can_then_log_in(
    client: httpx.AsyncClient, admin: Account
) -> None:
    response = await client.post(
        "/api/v1/users",
        json={
            "email": "Dave@Example.com",
            "password": "a long enough password",
            "scopes": ["items:read"],
        },
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    user = response.json()
    assert user["email"] == "dave@example.com"
    assert user["scopes"] == ["items:read"]
    assert response.headers["location"] == f"/api/v1/users/{user['id']}"
    assert "password" not in response.text

    token = await login(client, "dave@example.com", "a long enough password")
    assert token.status_code == 200, token.text
    assert token.json()["scope"] == "items:read"


async def test_only_admins_create_users(
    client: httpx.AsyncClient, alice: Account, app: Any
) -> None:
    body = problem(
        await client.post(
            "/api/v1/users",
            json={"email": "eve@example.com", "password": "a long enough password"},
            headers=alice.headers,
        ),
        403,
    )
    assert "admin" in body["detail"]
    assert await users.get_credentials(app.state.pool, "eve@example.com") is None


async def test_a_duplicate_email_is_409_whatever_its_case(
    client: httpx.AsyncClient, admin: Account, alice: Account
) -> None:
    response = await client.post(
        "/api/v1/users",
        json={"email": "ALICE@example.COM", "password": "a long enough password"},
        headers=admin.headers,
    )
    body = problem(response, 409)
    assert "exists" in body["detail"]


async def test_an_email_in_either_unicode_form_is_one_account(
    client: httpx.AsyncClient, admin: Account
) -> None:
    composed, decomposed = "jos\u00e9@example.com", "jose\u0301@example.com"
    password = "a long enough password"
    made = await client.post(
        "/api/v1/users", json={"email": decomposed, "password": password}, headers=admin.headers
    )
    assert made.status_code == 201, made.text
    assert made.json()["email"] == composed
    again = await client.post(
        "/api/v1/users", json={"email": composed, "password": password}, headers=admin.headers
    )
    problem(again, 409)
    for typed in (composed, decomposed):
        assert (await login(client, typed, password)).status_code == 200, typed


async def test_a_password_longer_than_the_limit_never_matches_its_first_1024_characters(
    client: httpx.AsyncClient, admin: Account
) -> None:
    """NIST SP 800-63B section 5.1.1.2: verifiers do not truncate."""
    password = "".join(random.Random(7).choices(string.ascii_letters, k=1024))
    made = await client.post(
        "/api/v1/users",
        json={"email": "long@example.com", "password": password},
        headers=admin.headers,
    )
    assert made.status_code == 201, made.text
    longer = problem(await login(client, "long@example.com", password + "not it"), 400)
    assert longer["error"] == "invalid_grant"
    assert (await login(client, "long@example.com", password)).status_code == 200


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-email", "password": "a long enough password"}, "$.email"),
        ({"email": "x@example.com", "password": "short"}, "$.password"),
        ({"email": "x@example.com", "password": "p" * 1025}, "$.password"),
        (
            {"email": "x@example.com", "password": "a long enough password", "scopes": ["root"]},
            "$.scopes[0]",
        ),
        (
            {"email": "x@example.com", "password": "a long enough password", "admin": True},
            "$.admin",
        ),
        ({"password": "a long enough password"}, "$.email"),  # the missing field itself
    ],
)
async def test_invalid_new_users_are_422_naming_the_field(
    client: httpx.AsyncClient, admin: Account, payload: dict[str, Any], field: str
) -> None:
    body = problem(await client.post("/api/v1/users", json=payload, headers=admin.headers), 422)
    assert body["errors"][0]["field"] == field


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("password", "common"),
        ("12345678", "common"),
        ("PassWord", "common"),  # compared without case
        ("iloveyou", "common"),
        ("qwertyuiop", "common"),
        ("dave@example.com", "email"),
        ("short", "length"),
        ("x" * 1025, "length"),
    ],
)
async def test_a_weak_password_is_422_naming_the_field(
    client: httpx.AsyncClient, admin: Account, password: str, reason: str
) -> None:
    """Finding: `password` and `12345678` were accepted (NIST SP 800-63B 5.1.1.2)."""
    payload = {"email": "dave@example.com", "password": password}
    body = problem(await client.post("/api/v1/users", json=payload, headers=admin.headers), 422)
    (error,) = body["errors"]
    assert error["field"] == "$.password"
    if reason == "common" and password.lower() != "password":
        assert password.lower() not in body["detail"].lower()  # not echoed
    assert "`" not in error["message"]  # no library wording
    if reason == "common":
        assert "common" in error["message"]


async def test_no_composition_rules_a_long_passphrase_is_fine(
    client: httpx.AsyncClient, admin: Account
) -> None:
    for password in ("all lower case words", "ñandú über straße", "x" * 1024):
        payload = {"email": f"p{len(password)}@example.com", "password": password}
        answer = await client.post("/api/v1/users", json=payload, headers=admin.headers)
        assert answer.status_code == 201, answer.text


# --- scopes and ownership --------------------------------------------------------------------


async def test_a_read_only_principal_cannot_write(
    client: httpx.AsyncClient, make_user: MakeUser, alice: Account
) -> None:
    reader = await make_user("reader@example.com", scopes=("items:read",))
    item = await create_item(client, alice)
    url = f"{ITEMS}/{item['id']}"
    assert (await client.get(url, headers=reader.headers)).status_code == 200
    assert (await client.get(ITEMS, headers=reader.headers)).status_code == 200

    refusals = [
        await client.post(ITEMS, json={"name": "x"}, headers=reader.headers),
        await client.put(f"{ITEMS}/{uuid.uuid4()}", json={"name": "x"}, headers=reader.headers),
        await client.patch(url, json={"name": "x"}, headers=reader.headers),
        await client.delete(url, headers=reader.headers),
        await client.post(f"{ITEMS}/batch", json=[{"name": "x"}], headers=reader.headers),
    ]
    for response in refusals:
        body = problem(response, 403)
        assert body["type"] == "/problems/insufficient-scope"
        assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert (await client.get(ITEMS, headers=alice.headers)).json() == [item]


async def test_a_write_only_principal_cannot_read(
    client: httpx.AsyncClient, make_user: MakeUser
) -> None:
    writer = await make_user("writer@example.com", scopes=("items:write",))
    item = await create_item(client, writer)
    problem(await client.get(f"{ITEMS}/{item['id']}", headers=writer.headers), 403)
    problem(await client.get(ITEMS, headers=writer.headers), 403)


async def test_anyone_with_read_scope_reads_others_items(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    item = await create_item(client, alice)
    response = await client.get(f"{ITEMS}/{item['id']}", headers=bob.headers)
    assert response.status_code == 200
    assert response.json() == item
    assert item["owner_id"] == str(alice.id)
    assert [i["id"] for i in (await client.get(ITEMS, headers=bob.headers)).json()] == [item["id"]]


async def test_cross_user_writes_are_refused_and_change_nothing(
    client: httpx.AsyncClient, alice: Account, bob: Account
) -> None:
    item = await create_item(client, alice)
    url = f"{ITEMS}/{item['id']}"
    etag = (await client.get(url, headers=alice.headers)).headers["etag"]
    bobs = bob.headers
    new_id = str(uuid.uuid4())

    refusals = [
        await client.put(url, json={"name": "Bob's now"}, headers=bobs),
        await client.put(url, json={"name": "Bob's now"}, headers={**bobs, "If-Match": etag}),
        await client.patch(url, json={"name": "Bob's now"}, headers=bobs),
        await client.patch(url, json={"name": "Bob's now"}, headers={**bobs, "If-Match": etag}),
        await client.delete(url, headers=bobs),
    ]
    for response in refusals:
        assert problem(response, 403)["type"] == "/problems/not-owner"

    batch = await client.post(
        f"{ITEMS}/batch",
        json=[{"id": new_id, "name": "new"}, {"id": item["id"], "name": "Bob's now"}],
        headers=bobs,
    )
    assert problem(batch, 403)["refused_ids"] == [item["id"]]

    after = await client.get(url, headers=alice.headers)
    assert after.json() == item
    assert after.headers["etag"] == etag
    # The batch was all or nothing: its new item was not written either.
    problem(await client.get(f"{ITEMS}/{new_id}", headers=alice.headers), 404)


async def test_admin_may_change_others_items_and_ownership_stays(
    client: httpx.AsyncClient, alice: Account, admin: Account
) -> None:
    item = await create_item(client, alice)
    url = f"{ITEMS}/{item['id']}"

    replaced = await client.put(url, json={"name": "By admin"}, headers=admin.headers)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["owner_id"] == str(alice.id)

    patched = await client.patch(url, json={"tags": ["moderated"]}, headers=admin.headers)
    assert patched.status_code == 200
    assert patched.json()["tags"] == ["moderated"]

    batch = await client.post(
        f"{ITEMS}/batch", json=[{"id": item["id"], "name": "Batched"}], headers=admin.headers
    )
    assert batch.status_code == 200, batch.text
    assert batch.json()["updated"] == 1

    assert (await client.delete(url, headers=admin.headers)).status_code == 204
    problem(await client.get(url, headers=alice.headers), 404)


async def test_owners_change_their_own_items(client: httpx.AsyncClient, alice: Account) -> None:
    item = await create_item(client, alice)
    url = f"{ITEMS}/{item['id']}"
    assert (
        await client.patch(url, json={"name": "Still mine"}, headers=alice.headers)
    ).status_code == 200
    assert (await client.delete(url, headers=alice.headers)).status_code == 204
