"""`python -m api`: serve, migrate, manage users."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

import asyncpg
import msgspec
import psycopg

from api import logs, migrate
from api.auth.accounts import NewUser, create_user, normalize_email
from api.settings import Settings, SettingsError, load_settings
from api.sqltools import cli as sql_cli
from queries import users
from queries.pool import create_pool


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m api", description="The items API")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate the database, then serve HTTP with uvicorn")
    serve.add_argument("--host", help="listen address (default: HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default: PORT or 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (default: WORKERS or 1)")
    serve.add_argument(
        "--no-migrate", action="store_true", help="skip creating and migrating the database"
    )

    mig = commands.add_parser("migrate", help="apply or roll back schema migrations")
    mig_commands = mig.add_subparsers(dest="action", required=True)
    mig_commands.add_parser("up", help="apply pending migrations (creates the database if missing)")
    down = mig_commands.add_parser("down", help="roll back the latest migration")
    down.add_argument("--all", action="store_true", help="roll back every migration")
    mig_commands.add_parser("status", help="list migrations and whether each is applied")

    usr = commands.add_parser("users", help="manage users")
    usr_commands = usr.add_subparsers(dest="action", required=True)
    create = usr_commands.add_parser("create", help="create a user; the password comes from stdin")
    create.add_argument("email")
    create.add_argument("--scopes", default="items:read,items:write", help="comma-separated scopes")
    disable = usr_commands.add_parser(
        "disable", help="disable a user: tokens and keys stop working"
    )
    disable.add_argument("email")
    enable = usr_commands.add_parser("enable", help="enable a disabled user again")
    enable.add_argument("email")
    sql_cli.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    url = settings.database_url
    try:
        if args.command == "serve":
            return _serve(settings, args)
        if args.command == "migrate":
            return _migrate(settings, args.action, getattr(args, "all", False))
        if args.command == "sql":
            return sql_cli.run(settings, args)
        return asyncio.run(_users(settings, args))
    except DatabaseNotReady as exc:
        print(redact(str(exc), url), file=sys.stderr)
        return 1
    except (psycopg.OperationalError, OSError) as exc:
        print(redact(_no_database_message(settings, exc), url), file=sys.stderr)
        return 1
    except asyncpg.PostgresError as exc:
        # e.g. the database does not exist yet, or is not migrated: a message, not a traceback.
        print(
            redact(f"the database refused the command: {exc}", url) + "\n"
            "Is it created and migrated? Run: python -m api migrate up",
            file=sys.stderr,
        )
        return 1


def _no_database_message(settings: Settings, exc: Exception) -> str:
    return (
        f"cannot reach PostgreSQL at {redact_url(settings.database_url)}: {exc}\n"
        "Set DATABASE_URL to a reachable server, or install and start one locally:\n"
        "  sudo apt-get install -y postgresql && sudo service postgresql start"
    )


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
        print(
            f"waiting for PostgreSQL at {where} to accept connections ({reason}); "
            f"retrying in {min(delay, left):.2f} s, giving up in {left:.0f} s",
            file=sys.stderr,
            flush=True,
        )
        time.sleep(min(delay, left))
        delay = min(delay * 2, 2.0)


def _migrate(settings: Settings, action: str, everything: bool) -> int:
    url = settings.database_url
    if action == "up":
        if migrate.ensure_database(url):
            print("created the database")
        applied = migrate.up(url)
        print(
            f"applied {len(applied)} migrations: {', '.join(applied)}" if applied else "up to date"
        )
    elif action == "down":
        rolled_back = migrate.down(url, everything=everything)
        print(f"rolled back: {', '.join(rolled_back)}" if rolled_back else "nothing to roll back")
    else:
        for state in migrate.status(url):
            print(f"{'applied' if state.applied else 'pending'}  {state.id}")
    return 0


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    logs.route_stdlib_logging(settings.log_level)
    wait_for_database(settings.database_url, settings.db_connect_timeout_s)
    if not args.no_migrate:
        _migrate(settings, "up", False)
    uvicorn.run(
        "api.asgi:app",
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers or settings.workers,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,  # the app writes its own structured access line
        log_config=None,  # keep the JSON logging that api.logs set up
        server_header=False,
        proxy_headers=True,
        timeout_graceful_shutdown=30,
    )
    return 0


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise SystemExit("the passwords differ")
    return first


async def _users(settings: Settings, args: argparse.Namespace) -> int:
    pool = await create_pool(
        settings.database_url, min_size=1, max_size=1, statement_timeout_ms=30_000
    )
    try:
        if args.action == "create":
            raw = {
                "email": args.email,
                "password": _read_password(),
                "scopes": [s.strip() for s in args.scopes.split(",") if s.strip()],
            }
            try:
                new = msgspec.convert(raw, NewUser)
            except msgspec.ValidationError as exc:
                print(f"invalid user: {exc}", file=sys.stderr)
                return 2
            from api.problems import ProblemError

            try:
                user = await create_user(pool, new)
            except ProblemError as exc:
                print(f"cannot create the user: {exc}", file=sys.stderr)
                return 1
            print(f"created user {user.email} ({user.id}) with scopes {','.join(user.scopes)}")
            return 0
        disabled = args.action == "disable"
        user_id = await users.set_disabled(pool, normalize_email(args.email), disabled)
        if user_id is None:
            print(f"no user with email {args.email}", file=sys.stderr)
            return 1
        print(f"{'disabled' if disabled else 'enabled'} {normalize_email(args.email)}")
        return 0
    finally:
        await pool.close()
