"""Who is calling, and what they may do."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from uuid import UUID

from api.problems import ProblemError

READ = "items:read"
WRITE = "items:write"
KEYS_MANAGE = "keys:manage"
ADMIN = "admin"
ALL_SCOPES = (READ, WRITE, KEYS_MANAGE, ADMIN)


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a user, through a token or one of their API keys."""

    user_id: UUID
    scopes: frozenset[str]
    via: Literal["token", "api_key"]
    key_id: UUID | None = None
    # When the API key this principal came through expires; None for tokens and ageless keys.
    key_expires_at: datetime | None = None
    # str(user_id), made once: every request of a cached principal logs it and counts its fair
    # share by it.
    user_id_text: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "user_id_text", str(self.user_id))

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.scopes

    def has(self, scope: str) -> bool:
        # admin stands for every scope.
        return scope in self.scopes or ADMIN in self.scopes

    def require(self, scope: str) -> Principal:
        """Return self when the principal holds `scope`, otherwise answer 403."""
        if scope not in self.scopes and ADMIN not in self.scopes:  # has(), without a call
            raise ProblemError(
                403,
                f"this operation needs the {scope!r} scope",
                slug="insufficient-scope",
                headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
            )
        return self
