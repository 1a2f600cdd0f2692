"""Reaching the database from a command: wait for it to accept connections, and never print
its password."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

import asyncpg

from api import logs


def redact_url(url: str) -> str:
    """The URL with its password, if any, replaced by `***`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return parts._replace(netloc=f"{user}:***@{host}").geturl()


def redact(text: str, url: str) -> str:
    """`text` without the password of `url`, whether it quotes the URL or the password alone."""
    password = urlsplit(url).password
    text = text.replace(url, redact_url(url))
    return text.replace(password, "***") if password else text


class DatabaseNotReady(Exception):
    """PostgreSQL did not accept connections within DB_CONNECT_TIMEOUT_S."""


# Failures that a starting, restarting or recovering server answers with; anything else (a
# wrong password, a refused role) is not worth waiting for.
_TRANSIENT = (
    OSError,  # refused, reset, unreachable, DNS not yet resolvable, timeouts
    asyncpg.CannotConnectNowError,  # "the database system is starting up", recovery
    asyncpg.TooManyConnectionsError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
)


async def _accepts_connections(url: str, timeout: float) -> None:  # noqa: ASYNC109
    """Connect once. A server that answers that the database does not exist yet is up: `serve`
    creates the database."""
    try:
        connection = await asyncpg.connect(url, timeout=timeout)
    except asyncpg.InvalidCatalogNameError:
        return
    await connection.close(timeout=timeout)


def wait_for_database(url: str, timeout_s: float) -> None:
    """Return once PostgreSQL at `url` accepts connections, trying with a backoff from 0.25 s
    to 2 s for up to `timeout_s` seconds; raise DatabaseNotReady with the last reason then."""
    where = redact_url(url)
    deadline = time.monotonic() + timeout_s
    delay = 0.25
    while True:
        left = deadline - time.monotonic()
        try:
            asyncio.run(_accepts_connections(url, timeout=max(0.5, min(left, 5.0))))
            return
        except _TRANSIENT as exc:
            reason = redact(f"{type(exc).__name__}: {exc}", url)
        left = deadline - time.monotonic()
        if left <= 0:
            raise DatabaseNotReady(
                f"PostgreSQL at {where} did not accept connections within {timeout_s:g} s "
                f"(DB_CONNECT_TIMEOUT_S); last error: {reason}"
            )
        logs.get_logger("api.serve").warning(
            f"waiting for PostgreSQL at {where} to accept connections",
            reason=reason,
            retry_in_s=round(min(delay, left), 2),
            give_up_in_s=round(left),
        )
        time.sleep(min(delay, left))
        delay = min(delay * 2, 2.0)
