"""Instructions per GET /api/v1/items/{id}, counted by callgrind: the Python-side cost of a request,
repeatable on a machine whose timings are not.

Each server's app runs inside this process and takes its requests through ASGI, without a socket,
and the pool's `fetchrow` (the coalesced reads' batch statement, for items-api-coalesced) hands
back rows fetched beforehand, without a round trip. So what is
counted is the framework, the middleware, auth, the access log and the encoding: the work that
the items API adds to the bare handler, not PostgreSQL's or the network's. Counting N and 3N
requests and dividing the difference by 2N takes start-up out.

    python -m benchmarks instructions [--requests 1000] [--servers items-api]
        [--without access-log,metrics,fair-share] [--hash-seed 0]

`--without` switches pieces of the items API off, so that the difference tells what each costs
(an ablation); `--hash-seed` fixes PYTHONHASHSEED, so that two counts differ by the code rather
than by where strings hash (benchmarks/README.md, "Profiling").

It needs valgrind. It seeds a database of its own (unique to the run, dropped afterwards), or
uses one that `python -m benchmarks run --db-name NAME` seeded and kept (`--db-name NAME`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

from benchmarks import common, database, tools

# items-api reads each item with a statement of its own (COALESCE_READS=false), as the bare
# handler does; items-api-coalesced through the coalesced reads, with batches as CONCURRENCY
# clients and a statement that answers at once make them.
SERVERS = ("items-api", "items-api-coalesced", "bare-blacksheep")
# What --without can switch off in the items API.
PIECES = ("access-log", "metrics", "fair-share")
# Items in the database made for one count (unless --db-name names one).
ITEMS = 2_000
CONCURRENCY = 8
HERE = Path(__file__).resolve().parent
_COLLECTED = re.compile(r"Collected : (\d+)")

Headers = list[tuple[bytes, bytes]]


def add_parser(commands: Any) -> None:
    counted = commands.add_parser(
        "instructions",
        help="Python-side instructions per GET by id, items API and bare handler (callgrind)",
    )
    counted.add_argument("--requests", type=int, default=1000, help="N: runs N and 3N requests")
    counted.add_argument(
        "--servers", default=",".join(SERVERS), help="which to count, comma-separated"
    )
    counted.add_argument(
        "--without",
        default="",
        help=f"pieces of the items API to switch off, comma-separated: {', '.join(PIECES)}",
    )
    counted.add_argument(
        "--hash-seed",
        type=int,
        help="PYTHONHASHSEED of the counted processes (default: a random one each, as Python's)",
    )
    counted.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432"),
        help="PostgreSQL server of the database `run` seeded",
    )
    counted.add_argument(
        "--db-name",
        help="a database `run --db-name` seeded and kept (default: a fresh one of "
        f"{ITEMS:,} items, made for this count and dropped afterwards)",
    )


def main(args: argparse.Namespace) -> int:
    servers = [name for name in args.servers.split(",") if name]
    without = [piece for piece in args.without.split(",") if piece]
    unknown = [*(set(servers) - set(SERVERS)), *(set(without) - set(PIECES))]
    if unknown or not servers:
        print(f"error: unknown server or piece: {', '.join(unknown)}", file=sys.stderr)
        return 2
    this_run = common.run_id()
    work = HERE / ".work" / f"instructions-{this_run}"
    if args.db_name is None:
        name = f"bench_instructions_{this_run}"
        data = work / "data"
    else:
        name, data = args.db_name, HERE / ".work" / "data"
    dsn = f"{args.pg_url}/{name}"
    try:
        if args.db_name is None:
            database.prepare_database(args.pg_url, name, ITEMS, 42, data)
        counts = {
            server: count(server, args.requests, dsn, data, tuple(without), args.hash_seed)
            for server in servers
        }
    finally:
        if args.db_name is None:
            asyncio.run(database.drop_database(args.pg_url, name))
        shutil.rmtree(work, ignore_errors=True)
    switched_off = f" (without {', '.join(without)})" if without else ""
    for name, value in counts.items():
        print(f"{name:16} {value:>9,} instructions per GET /api/v1/items/{{id}}{switched_off}")
    for name in ("items-api", "items-api-coalesced"):
        if name in counts and "bare-blacksheep" in counts:
            print(f"{name} / bare: {counts[name] / counts['bare-blacksheep']:.2f}")
    return 0


def count(
    server: str,
    requests: int,
    dsn: str,
    data: Path,
    without: tuple[str, ...] = (),
    hash_seed: int | None = None,
) -> int:
    """Instructions per request of one server, from two callgrind runs."""
    valgrind = tools.find_valgrind()
    environment = dict(os.environ)
    if hash_seed is not None:
        environment["PYTHONHASHSEED"] = str(hash_seed)

    def total(n: int) -> int:
        command = [sys.executable, "-m", "benchmarks.instructions", server, str(n), dsn, str(data)]
        done = subprocess.run(
            [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", *command, *without],
            capture_output=True,
            text=True,
            check=False,
            env=environment,
        )
        found = _COLLECTED.search(done.stderr)
        if done.returncode != 0 or found is None:
            raise RuntimeError(f"callgrind run of {server} failed:\n{done.stderr[-3000:]}")
        return int(found[1])

    return (total(3 * requests) - total(requests)) // (2 * requests)


async def _call(app: Any, method: str, path: str, headers: Headers, body: bytes = b"") -> bytes:
    """One request through the app's ASGI interface; the response body (a 2xx is required)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }
    received = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:
            await asyncio.Event().wait()  # the client never disconnects
        received = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        else:
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    if not 200 <= status < 300:
        raise RuntimeError(f"{method} {path} answered {status}: {b''.join(chunks)[:300]!r}")
    return b"".join(chunks)


async def _drive(app: Any, headers: Headers, ids: list[str], requests: int) -> None:
    numbers = iter(range(requests))

    async def client() -> None:
        for number in numbers:
            await _call(app, "GET", f"/api/v1/items/{ids[number % len(ids)]}", headers)

    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))


async def _api_key(app: Any) -> bytes:
    form = {"grant_type": "password", "username": common.EMAIL, "password": common.PASSWORD}
    token = json.loads(
        await _call(
            app,
            "POST",
            "/api/v1/auth/token",
            [(b"content-type", b"application/x-www-form-urlencoded")],
            urllib.parse.urlencode(form).encode(),
        )
    )["access_token"]
    made = await _call(
        app,
        "POST",
        "/api/v1/api-keys",
        [(b"content-type", b"application/json"), (b"authorization", f"Bearer {token}".encode())],
        b'{"name":"instructions"}',
    )
    return str(json.loads(made)["key"]).encode()


async def _inside(
    server: str, requests: int, dsn: str, data: Path, without: frozenset[str] = frozenset()
) -> None:
    """The measured process: start one app, warm it up, stub fetchrow, run the requests."""
    # The bare handler's module reads DATABASE_URL when imported, so it is imported here.
    os.environ["DATABASE_URL"] = dsn
    from api import logs
    from api.app import create_app
    from api.settings import Settings
    from benchmarks.peers.bare_blacksheep import app as bare
    from queries.coalesce import PointReads
    from queries.loader import load

    ids = (data / "ids.txt").read_text().split()
    logs.configure("info", stream=Path(os.devnull).open("wb"))  # noqa: ASYNC230, SIM115
    headers: Headers = []
    if server.startswith("items-api"):
        if "fair-share" in without:
            from api.fairshare import PrincipalSlots

            PrincipalSlots.take = PrincipalSlots.give_back = lambda *_: None  # no-ops
        settings = Settings(
            environment="production",
            secret_key=common.SECRET_KEY,
            database_url=dsn,
            db_pool_min_size=2,
            db_pool_max_size=2,
            auth_cache_seconds=3600,  # callgrind is ~50x slower: the key must stay cached
            request_timeout_ms=600_000,  # and the login's password hashing must not time out
            # The one key stands for CONCURRENCY clients: the fair-share check runs, refusing none.
            principal_max_concurrency=CONCURRENCY,
            coalesce_reads=server == "items-api-coalesced",
            access_log="access-log" not in without,
            metrics_enabled="metrics" not in without,
        )
        app = create_app(settings)
        await app.start()
        headers = [(b"x-api-key", await _api_key(app))]
        pool = app.state.pool
    else:
        app = bare.app
        await app.start()
        pool = bare.pool
    await _drive(app, headers, ids, 200)
    row = await pool.fetchrow(load("items/get_by_id"), uuid.UUID(ids[0]))

    async def fetchrow(self: Any, query: str, *args: Any, **options: Any) -> Any:
        return row

    type(pool).fetchrow = fetchrow  # the pool class uses __slots__: patch the class
    rows = {
        row[0]: row
        for row in await pool.fetch(load("items/get_by_ids"), [uuid.UUID(i) for i in ids])
    }

    async def fetch_batch(self: Any, keys: list[Any], deadline: float) -> list[Any]:
        return [rows[key] for key in keys]

    PointReads._fetch = fetch_batch  # type: ignore[method-assign]
    await _drive(app, headers, ids, requests)


if __name__ == "__main__":
    import uvloop

    name, count_text, database, data_dir, *pieces = sys.argv[1:]
    uvloop.run(_inside(name, int(count_text), database, Path(data_dir), frozenset(pieces)))
