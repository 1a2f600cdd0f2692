"""One more try for a read whose connection was lost.

A read-only statement (queries.loader.READ_ONLY) whose connection was lost before its rows came
back runs once more on a fresh connection; a write is never run twice, since it may have been
committed before the loss.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import asyncpg

from queries.errors import LOST_CONNECTION
from queries.loader import READ_ONLY

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

T = TypeVar("T")


async def on_a_connection(
    pool: asyncpg.Pool,
    query: str,
    use: Callable[[PoolConnectionProxy[asyncpg.Record]], Awaitable[T]],
) -> T:
    """`use(connection)` on a connection of `pool` that runs `query`; once more on a fresh
    connection when the first was lost and `query` only reads."""
    # Awaited and released by hand rather than `async with pool.acquire()`, whose enter and exit
    # are a coroutine each, on every statement (benchmarks/README.md, "Why the code is as it is").
    connection = await pool.acquire()
    try:
        return await use(connection)
    except LOST_CONNECTION:
        if query not in READ_ONLY:
            raise
    except asyncpg.DataError as error:
        if type(error) is asyncpg.DataError:  # an argument the driver could not encode
            # asyncpg stops between a new statement's Parse and its Bind without a Sync: the
            # session stays active, in a transaction that holds its locks, until the connection
            # is used again. Closed instead, it ends now, and the pool opens a fresh one.
            connection.terminate()
        raise
    finally:
        await pool.release(connection)
    connection = await pool.acquire()
    try:
        return await use(connection)
    finally:
        await pool.release(connection)
