"""`python -m api`: serve, migrate, manage users."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import random
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, get_args
from urllib.parse import urlsplit

import asyncpg
import msgspec
import psycopg

from api import logs, migrate, processes
from api.auth import throttle
from api.auth.accounts import create_user
from api.auth.events import SecurityEvent, security_event
from api.auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, hash_password
from api.contracts.users import DEFAULT_SCOPES, NewUser, Password, Scope, normalize_email
from api.settings import Settings, SettingsError, load_settings
from api.sqltools import cli as sql_cli
from queries import users
from queries.pool import create_pool

ALL_SCOPES = get_args(Scope)
PASSWORD_SOURCE = (
    "The password is read from standard input: the first line when piped "
    "(echo 'a long passphrase' | python -m api users ...), or asked for twice, without echo, "
    f"on a terminal; {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters. It never comes "
    "from an argument or the environment, where other users and shell history could read it."
)
_EMAIL_HELP = "the user's email, in any case (emails are compared case-insensitively, in NFC)"


class NewPassword(msgspec.Struct):
    password: Password


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
    demo = commands.add_parser(
        "seed",
        help="fill the database with realistic demo items (COPY), to try search on",
        description="Add demo items: the benchmark's names, tags and metadata, created over the "
        "past year, loaded with COPY; then ANALYZE. A progress bar on a terminal.",
    )
    demo.add_argument("--items", type=int, default=10_000, help="how many (default 10000)")
    demo.add_argument(
        "--owner",
        metavar="EMAIL",
        help="the user who owns them (default: none; every user with items:read reads them, "
        "an admin changes them)",
    )
    demo.add_argument(
        "--seed",
        type=int,
        help="random seed, for the same items again (default: new ones on every run)",
    )
    unlock = usr_commands.add_parser(
        "unlock",
        help="lift a login lock: forget the account's failed logins",
        description="Forget the account's failed logins, which lifts its lock at once (locks "
        "also end by themselves when LOGIN_WINDOW_SECONDS passes). Counts per client address "
        "stay.",
    )
    unlock.add_argument("email", help=_EMAIL_HELP)
    sql_cli.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command in ("serve", "migrate"):
        # Their progress is log lines: JSON, or colored text on a terminal in development.
        logs.configure(settings.log_level, console=logs.wants_console(settings.environment))
        logs.route_stdlib_logging(settings.log_level)
    url = settings.database_url
    try:
        if args.command == "serve":
            return _serve(settings, args)
        if args.command == "migrate":
            return _migrate(settings, args.action, getattr(args, "all", False))
        if args.command == "sql":
            return sql_cli.run(settings, args)
        if args.command == "seed":
            return asyncio.run(_seed(settings, args))
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
        logs.get_logger("api.serve").warning(
            f"waiting for PostgreSQL at {where} to accept connections",
            reason=reason,
            retry_in_s=round(min(delay, left), 2),
            give_up_in_s=round(left),
        )
        time.sleep(min(delay, left))
        delay = min(delay * 2, 2.0)


def _migrate(settings: Settings, action: str, everything: bool) -> int:
    url = settings.database_url
    log = logs.get_logger("api.migrate")
    database = urlsplit(url).path.lstrip("/")  # never the URL: it may hold a password
    if action == "up":
        if migrate.ensure_database(url):
            log.info("database created", database=database)
        applied = migrate.up(url)
        if applied:
            log.info("migrations applied", database=database, migrations=applied)
        else:
            log.info("migrations up to date", database=database)
    elif action == "down":
        rolled_back = migrate.down(url, everything=everything)
        if rolled_back:
            log.info("migrations rolled back", database=database, migrations=rolled_back)
        else:
            log.info("nothing to roll back", database=database)
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
    workers = args.workers or settings.workers
    if not settings.secret_key and workers > 1:
        # Development without a key: one random key for all the workers, so that a token one
        # of them signed is good in the others (they inherit the environment).
        os.environ["SECRET_KEY"] = secrets.token_urlsafe(32)
    with _metrics_folder(settings):
        _run_uvicorn(uvicorn, settings, args, workers)
    return 0


METRICS_FOLDER_PREFIX = "items-api-metrics-"


@contextlib.contextmanager
def _metrics_folder(settings: Settings) -> Iterator[None]:
    """Prometheus-client's multiprocess mode for every worker: a folder where each writes its
    values and where one scrape reads them all. A fresh one per run
    (`items-api-metrics-<pid>-<random>` in the temporary directory), removed when serve ends,
    also on SIGTERM; folders of runs whose process is gone (kill -9) are removed at start. A
    PROMETHEUS_MULTIPROC_DIR given is emptied of earlier runs' files first (as prometheus-client
    requires) and kept. Set before anything imports prometheus_client, which reads it once."""
    if not settings.metrics_enabled:
        yield
        return
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        for stale in Path(given).glob("*.db"):
            stale.unlink()
        yield
        return
    _remove_orphaned_metrics_folders()
    folder = tempfile.mkdtemp(prefix=f"{METRICS_FOLDER_PREFIX}{os.getpid()}-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    # uvicorn re-raises SIGTERM once it has shut down, after restoring the handler it found: with
    # the default one the process would die before the folder is removed. So the folder goes
    # first, then SIGTERM ends the process as uvicorn meant it to.
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    terminated = False
    try:
        yield
    except _Terminated:
        terminated = True
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)
    if terminated:
        signal.raise_signal(signal.SIGTERM)


class _Terminated(BaseException):
    """SIGTERM arrived once uvicorn had shut down."""


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


def _remove_orphaned_metrics_folders() -> None:
    for folder in Path(tempfile.gettempdir()).glob(f"{METRICS_FOLDER_PREFIX}*-*"):
        pid = folder.name.removeprefix(METRICS_FOLDER_PREFIX).split("-", 1)[0]
        if pid.isdigit() and not processes.exists(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _run_uvicorn(uvicorn: Any, settings: Settings, args: argparse.Namespace, workers: int) -> None:
    from api.server import HeaderLimitedProtocol

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


async def _seed(settings: Settings, args: argparse.Namespace) -> int:
    if args.items < 1:
        print("--items must be at least 1", file=sys.stderr)
        return 2
    from tqdm import tqdm

    from api import demo
    from api.sqltools.statements import tooling

    connection = await asyncpg.connect(settings.database_url, timeout=10)
    try:
        owner = None
        if args.owner:
            owner = await users.get_id_by_email(connection, normalize_email(args.owner))
            if owner is None:
                print(f"no user with email {args.owner}", file=sys.stderr)
                return 1
        rng = random.Random(args.seed)  # noqa: S311 (demo data, not secrets)
        begun = time.perf_counter()
        # A pseudo-terminal may report a size of 0, where tqdm draws nothing: 80 x 24 then.
        size = shutil.get_terminal_size((80, 24))
        with tqdm(
            total=args.items,
            unit=" items",
            file=sys.stderr,
            disable=None,  # no bar when stderr is not a terminal
            ncols=size.columns,
            nrows=size.lines,
        ) as bar:
            written = await demo.copy_items(
                connection, demo.item_records(rng, args.items, owner), bar.update
            )
        await connection.execute(tooling("analyze"))
    finally:
        await connection.close()
    seconds = time.perf_counter() - begun
    print(f"seeded {written:,} items in {seconds:.1f} s ({written / seconds:,.0f} items/s)")
    return 0
