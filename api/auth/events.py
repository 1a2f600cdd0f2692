"""Security events: one JSON log line each, `event` naming what happened (OWASP ASVS V7.2).

Each line carries the user or key id and the client address; the request id comes with every
line logged during a request (api.logs). Never a password, token or key: callers pass ids only.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from api.logs import get_logger

SecurityEvent = Literal[
    "login_failed",
    "login_throttled",
    "api_key_created",
    "api_key_revoked",
    "user_created",
    "user_disabled",
    "user_enabled",
    "user_scopes_changed",
    "user_unlocked",
]
_WARNINGS = frozenset({"login_failed", "login_throttled"})
_LOGGER = "api.security"
_log = get_logger(_LOGGER)


def security_event(
    event: SecurityEvent, *, client_address: str | None, **fields: UUID | str | int | None
) -> None:
    """Log `event` with `client_address` (None outside a request, e.g. the CLI) and `fields`
    (user_id, key_id, actor_id, reason...); ids are written as text."""
    values = {
        name: str(value) if isinstance(value, UUID) else value for name, value in fields.items()
    }
    log = _log.warning if event in _WARNINGS else _log.info
    log(event, logger=_LOGGER, client_address=client_address, **values)
