"""What the driver's failures mean: the connection was lost, the database cannot be used now, or
no pool connection became free in time."""

from __future__ import annotations

from asyncpg import exceptions as pg_errors

# The connection to PostgreSQL was lost, closed or terminated (pg_terminate_backend, a crash, a
# restart, a reset socket): a statement that was sent may or may not have run.
LOST_CONNECTION: tuple[type[BaseException], ...] = (
    pg_errors.PostgresConnectionError,  # SQLSTATE class 08, e.g. ConnectionDoesNotExistError
    pg_errors.AdminShutdownError,  # 57P01, pg_terminate_backend or a fast shutdown
    pg_errors.CrashShutdownError,  # 57P02
    pg_errors.InterfaceError,  # "connection is closed", "another operation is in progress"
    pg_errors.InternalClientError,  # "cannot switch to state 12; another operation is in progress"
    ConnectionError,  # reset, refused, broken pipe
)
# Every failure that says the database cannot be used right now, as opposed to a bad statement
# or bad data: each is answered 503 with Retry-After, never 500 (api/middleware.py).
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    *LOST_CONNECTION,
    pg_errors.OperatorInterventionError,  # class 57: cannot connect now, query canceled...
    pg_errors.InsufficientResourcesError,  # class 53: too many connections, out of memory
    pg_errors.InvalidAuthorizationSpecificationError,  # class 28: the pool cannot log in
    pg_errors.InvalidCatalogNameError,  # 3D000: the database is gone
    pg_errors.ReadOnlySQLTransactionError,  # 25006: a standby answered after a failover
    pg_errors.LockNotAvailableError,  # 55P03: lock_timeout
    OSError,  # TimeoutError (asyncio's too), unreachable host, DNS
)


class BudgetSpentError(TimeoutError):
    """A coalesced statement was cancelled when the longest budget of the requests it served ran
    out (queries/coalesce.py): each of them is past its budget."""


class PoolTimeoutError(TimeoutError):
    """No pool connection became free within DB_ACQUIRE_TIMEOUT_MS or the request's budget."""
