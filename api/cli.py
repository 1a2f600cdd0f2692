"""`python -m api`: serve, migrate, manage users."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import secrets
import sys
from collections.abc import Sequence

import asyncpg
import msgspec
import psycopg

from api import logs, migrate
from api.auth import throttle
from api.auth.accounts import NewUser, create_user, normalize_email
from api.auth.events import SecurityEvent, security_event
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
    create.add_argument(
        "--scopes", default="items:read,items:write,keys:manage", help="comma-separated scopes"
    )
    disable = usr_commands.add_parser(
        "disable", help="disable a user: tokens and keys stop working"
    )
    disable.add_argument("email")
    enable = usr_commands.add_parser("enable", help="enable a disabled user again")
    enable.add_argument("email")
    unlock = usr_commands.add_parser(
        "unlock", help="lift a login lock: forget the account's failed logins"
    )
    unlock.add_argument("email")
    sql_cli.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "serve":
            return _serve(settings, args)
        if args.command == "migrate":
            return _migrate(settings, args.action, getattr(args, "all", False))
        if args.command == "sql":
            return sql_cli.run(settings, args)
        return asyncio.run(_users(settings, args))
    except psycopg.OperationalError as exc:
        print(_no_database_message(settings, exc), file=sys.stderr)
        return 1
    except OSError as exc:
        print(_no_database_message(settings, exc), file=sys.stderr)
        return 1
    except asyncpg.PostgresError as exc:
        # e.g. the database does not exist yet, or is not migrated: a message, not a traceback.
        print(
            f"the database refused the command: {exc}\n"
            "Is it created and migrated? Run: python -m api migrate up",
            file=sys.stderr,
        )
        return 1


def _no_database_message(settings: Settings, exc: Exception) -> str:
    return (
        f"cannot reach PostgreSQL at {settings.database_url}: {exc}\n"
        "Set DATABASE_URL to a reachable server, or install and start one locally:\n"
        "  sudo apt-get install -y postgresql && sudo service postgresql start"
    )


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

    from api.server import HeaderLimitedProtocol

    logs.route_stdlib_logging(settings.log_level)
    if not args.no_migrate:
        _migrate(settings, "up", False)
    workers = args.workers or settings.workers
    if not settings.secret_key and workers > 1:
        # Development without a key: one random key for all the workers, so that a token one
        # of them signed is good in the others (they inherit the environment).
        os.environ["SECRET_KEY"] = secrets.token_urlsafe(32)
    uvicorn.run(
        "api.asgi:app",
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=workers,
        loop="uvloop",
        # httptools, with limits on the request head's size, fields and time (api.server).
        http=HeaderLimitedProtocol,
        lifespan="on",
        access_log=False,  # the app writes its own structured access line
        log_config=None,  # keep the JSON logging that api.logs set up
        server_header=False,
        # X-Forwarded-For is believed only from FORWARDED_ALLOW_IPS (no one by default): from
        # anyone else it would let a client choose the address its failed logins count against.
        proxy_headers=bool(settings.forwarded_allow_ips.strip()),
        forwarded_allow_ips=settings.forwarded_allow_ips.strip() or None,
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


async def _unlock(pool: asyncpg.Pool, email: str) -> int:
    """Forget the account's attempts; works for an email nobody has too (its counter exists)."""
    credentials = await users.get_credentials(pool, email)
    had_attempts = await throttle.unlock(pool, email)
    user_id = None if credentials is None else credentials.id
    security_event("user_unlocked", client_address=None, user_id=user_id, actor="cli")
    state = "unlocked" if had_attempts else "no failed logins to forget for"
    print(f"{state} {email}" + ("" if credentials is not None else " (no such user)"))
    return 0


async def _users(settings: Settings, args: argparse.Namespace) -> int:
    # Security events as JSON lines on stderr; stdout keeps the human answer.
    logs.configure(settings.log_level, stream=sys.stderr.buffer)
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
            security_event("user_created", client_address=None, user_id=user.id, actor="cli")
            print(f"created user {user.email} ({user.id}) with scopes {','.join(user.scopes)}")
            return 0
        email = normalize_email(args.email)
        if args.action == "unlock":
            return await _unlock(pool, email)
        disabled = args.action == "disable"
        user_id = await users.set_disabled(pool, email, disabled)
        if user_id is None:
            print(f"no user with email {args.email}", file=sys.stderr)
            return 1
        event: SecurityEvent = "user_disabled" if disabled else "user_enabled"
        security_event(event, client_address=None, user_id=user_id, actor="cli")
        print(f"{'disabled' if disabled else 'enabled'} {email}")
        return 0
    finally:
        await pool.close()
