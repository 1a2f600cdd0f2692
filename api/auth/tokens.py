"""Access tokens: HS256 JWTs with exp, iat, sub, scope, jti and gen: the token generation of the
user when it was issued (a password change starts the next, which ends every older token)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from uuid import UUID

import jwt

ALGORITHM = "HS256"
ISSUER = "items-api"
LEEWAY_SECONDS = 10


class InvalidToken(Exception):
    """The token is malformed, wrongly signed, expired or otherwise unusable."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: UUID
    scopes: frozenset[str]
    token_id: str
    expires_at: int
    generation: int


def issue(
    secret_key: str, user_id: UUID, scopes: list[str], ttl_seconds: int, generation: int
) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": str(user_id),
        "scope": " ".join(scopes),
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": secrets.token_urlsafe(16),
        "gen": generation,
    }
    return jwt.encode(claims, secret_key, algorithm=ALGORITHM)


def verify(secret_key: str, token: str) -> TokenClaims:
    """Check signature (HS256 only: never `none`, never another algorithm), expiry and claims."""
    try:
        claims = jwt.decode(
            token,
            secret_key,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "sub", "jti", "iss", "scope"]},
        )
        # A token from before generations existed counts as the first: a password change since
        # ends it too.
        scope, generation = claims["scope"], claims.get("gen", 0)
        if not isinstance(scope, str):
            raise InvalidToken("scope must be a string")
        if type(generation) is not int:
            raise InvalidToken("the token's gen claim is not an integer")
        return TokenClaims(
            user_id=UUID(claims["sub"]),
            scopes=frozenset(scope.split()),
            token_id=str(claims["jti"]),
            expires_at=int(claims["exp"]),
            generation=generation,
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("the token has expired") from None
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidToken(f"the token lacks the {exc.claim} claim") from None
    except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
        # PyJWT's own words ("Not enough segments", ...) describe its parser, not the client's
        # mistake: each kind gets a message of ours.
        raise InvalidToken(_REASONS.get(type(exc), "the token is not valid")) from None


_REASONS: dict[type[Exception], str] = {
    jwt.InvalidSignatureError: "the token's signature does not match",
    jwt.DecodeError: "the token is malformed",
    jwt.InvalidAlgorithmError: "the token is not signed with HS256",
    jwt.InvalidIssuerError: "the token was issued by someone else",
    jwt.ImmatureSignatureError: "the token is not valid yet",
    jwt.InvalidIssuedAtError: "the token's iat claim is not a time in the past",
    ValueError: "the token's sub claim is not a user id",
}
