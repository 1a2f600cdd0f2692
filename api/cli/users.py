"""`python -m api users ...`: create, list, enable and disable users, set passwords and scopes,
lift login locks."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any

import asyncpg
import msgspec

from api import logs
from api.auth import throttle
from api.auth.accounts import create_user
from api.auth.events import SecurityEvent, security_event
from api.auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, hash_password
from api.auth.principal import ALL_SCOPES
from api.contracts.users import DEFAULT_SCOPES, NewUser, Password, normalize_email
from api.settings import Settings
from queries import users
from queries.pool import create_pool

PASSWORD_SOURCE = (
    "The password is read from standard input: the first line when piped "
    "(echo 'a long passphrase' | python -m api users ...), or asked for twice, without echo, "
    f"on a terminal; {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters. It never comes "
    "from an argument or the environment, where other users and shell history could read it."
)
_EMAIL_HELP = "the user's email, in any case (emails are compared case-insensitively, in NFC)"


class NewPassword(msgspec.Struct):
    password: Password


def add_parser(commands: Any) -> None:
    usr = commands.add_parser(
        "users",
        help="manage users",
        description="Manage users in the database DATABASE_URL names. " + PASSWORD_SOURCE,
    )
    usr_commands = usr.add_subparsers(dest="action", required=True)
    create = usr_commands.add_parser(
        "create",
        help="create a user; the password comes from stdin",
        description="Create a user. " + PASSWORD_SOURCE,
    )
    create.add_argument("email", help=_EMAIL_HELP)
    create.add_argument(
        "--scopes",
        default=",".join(DEFAULT_SCOPES),
        help=f"comma-separated, out of {', '.join(ALL_SCOPES)} (admin stands for every scope); "
        f"default: {','.join(DEFAULT_SCOPES)}",
    )
    usr_commands.add_parser(
        "list",
        help="list users: email, scopes, disabled, created",
        description="Every user in email order: email, scopes, whether disabled, when created. "
        "Never a password or its hash.",
    )
    set_password = usr_commands.add_parser(
        "set-password",
        help="set a user's password; the new one comes from stdin",
        description="Replace a user's password. "
        + PASSWORD_SOURCE
        + " Every access token issued before is refused from then on (within AUTH_CACHE_SECONDS"
        " in a running server); API keys stay valid: revoke them, or use disable to cut the"
        " user off entirely.",
    )
    set_password.add_argument("email", help=_EMAIL_HELP)
    disable = usr_commands.add_parser(
        "disable",
        help="disable a user: tokens and keys stop working",
        description="Disable a user: logins are refused, and their tokens and API keys stop "
        "working within AUTH_CACHE_SECONDS in every running server. Nothing is deleted; "
        "enable undoes it.",
    )
    disable.add_argument("email", help=_EMAIL_HELP)
    enable = usr_commands.add_parser(
        "enable",
        help="enable a disabled user again",
        description="Enable a disabled user: their password, unexpired tokens and API keys "
        "work again.",
    )
    enable.add_argument("email", help=_EMAIL_HELP)
    set_scopes = usr_commands.add_parser(
        "set-scopes",
        help="replace a user's scopes",
        description="Replace a user's scopes (e.g. to grant keys:manage to a user created before "
        "it existed). Tokens and API keys keep only the scopes their user still has, within "
        "AUTH_CACHE_SECONDS in every running server; a scope added reaches the tokens issued "
        "after it, within the same bound.",
    )
    set_scopes.add_argument("email", help=_EMAIL_HELP)
    set_scopes.add_argument(
        "--scopes",
        required=True,
        help=f"comma-separated, out of {', '.join(ALL_SCOPES)} (admin stands for every scope)",
    )
    unlock = usr_commands.add_parser(
        "unlock",
        help="lift a login lock: forget the account's failed logins",
        description="Forget the account's failed logins, which lifts its lock at once (locks "
        "also end by themselves when LOGIN_WINDOW_SECONDS passes). Counts per client address "
        "stay.",
    )
    unlock.add_argument("email", help=_EMAIL_HELP)


def run(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_users(settings, args))


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
    # As the service's own pool: behind PgBouncer (docs/operations.md) no startup parameters
    # and, before PgBouncer 1.21, no statement cache.
    pool = await create_pool(
        settings.database_url,
        min_size=1,
        max_size=1,
        statement_timeout_ms=30_000,
        statement_cache_size=settings.db_statement_cache_size,
        session_parameters=settings.db_session_parameters,
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
        if args.action == "list":
            return await _list_users(pool)
        if args.action == "set-password":
            return await _set_password(pool, args.email)
        email = normalize_email(args.email)
        if args.action == "unlock":
            return await _unlock(pool, email)
        if args.action == "set-scopes":
            return await _set_scopes(pool, email, args.scopes)
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


async def _list_users(pool: asyncpg.Pool) -> int:
    """Print every user, a page of LIST_PAGE_SIZE at a time (keyset, by email), in columns as
    wide as the first page's emails and every scope together need."""
    page = await users.list_page(pool, "", LIST_PAGE_SIZE)
    email_width = max([len("email"), *(len(user.email) for user in page)])
    scopes_width = len(",".join(ALL_SCOPES))
    print(f"{'email':{email_width}}  {'scopes':{scopes_width}}  disabled  created")
    while True:
        for user in page:
            print(
                f"{user.email:{email_width}}  {','.join(user.scopes):{scopes_width}}  "
                f"{'yes' if user.disabled else 'no':8}  "
                f"{user.created_at.isoformat(timespec='seconds')}"
            )
        if len(page) < LIST_PAGE_SIZE:
            return 0
        page = await users.list_page(pool, page[-1].email, LIST_PAGE_SIZE)


LIST_PAGE_SIZE = 500


async def _set_scopes(pool: asyncpg.Pool, email: str, given: str) -> int:
    wanted = sorted({scope.strip() for scope in given.split(",") if scope.strip()})
    unknown = [scope for scope in wanted if scope not in ALL_SCOPES]
    if unknown or not wanted:
        print(f"scopes must be some of {', '.join(ALL_SCOPES)}; got {given!r}", file=sys.stderr)
        return 2
    user_id = await users.set_scopes(pool, email, wanted)
    if user_id is None:
        print(f"no user with email {email}", file=sys.stderr)
        return 1
    security_event(
        "user_scopes_changed",
        client_address=None,
        user_id=user_id,
        actor="cli",
        scopes=",".join(wanted),
    )
    print(f"{email} now has scopes {','.join(wanted)}")
    return 0


async def _set_password(pool: asyncpg.Pool, email: str) -> int:
    try:
        new = msgspec.convert({"password": _read_password()}, NewPassword)
    except msgspec.ValidationError as exc:
        print(f"invalid password: {exc}", file=sys.stderr)
        return 2
    password_hash = await hash_password(new.password)  # in a worker thread
    if await users.set_password(pool, normalize_email(email), password_hash) is None:
        print(f"no user with email {email}", file=sys.stderr)
        return 1
    print(f"set the password of {normalize_email(email)}")
    return 0
