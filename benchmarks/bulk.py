"""`python -m benchmarks bulk`: items per second and the server's memory for an export and an
import of N items, beside the batch endpoint and PostgreSQL's own ceiling (psql).

For each size, on a fresh benchmark database and one running items API:

- `import`: POST /api/v1/items/import of an NDJSON file of N new items (curl streams it);
- `export ndjson`, `export csv`: GET /api/v1/items/export of the N items into a file, checked
  for its completeness line;
- `psql export`: `\\copy (SELECT item_json(i) …) TO` a file, the same JSON straight from PostgreSQL;
- `psql COPY + INSERT`: what an import asks of PostgreSQL, run directly by psql in one
  transaction: the same temporary table (sql/session/create_item_import.sql) filled by `\\copy`
  from CSV, then the import's own INSERT … ON CONFLICT (sql/items/import_upsert.sql); again with
  the search-sync triggers disabled, to show what they cost;
- `batch endpoint`: the same N items through POST /api/v1/items/batch, 1,000 a request.

Each write starts from an empty table. The server's memory is the resident size of all its
processes, sampled every 20 ms: `memory growth` is the peak during a step less the size before it.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import http.client
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from api.demo import random_item, random_uuid
from api.sqltools.statements import tooling
from benchmarks import clients, common, database, servers
from benchmarks.common import log
from queries.loader import load

HERE = Path(__file__).resolve().parent
BATCH_SIZE = 1000  # the batch endpoint's most items per request
# The search-sync triggers of migration 0009: what `psql COPY + INSERT, no search sync` disables.
SEARCH_TRIGGERS = ("items_sync_search_insert", "items_sync_search_update")
# The export's JSON in its default order, straight from PostgreSQL: `psql export`.
PSQL_EXPORT = "\\copy (SELECT item_json(i) FROM items AS i ORDER BY i.created_at DESC, i.id DESC)"


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "bulk", help="export and import of N items: items/s and the server's memory"
    )
    parser.add_argument(
        "--items",
        default="100000,1000000",
        help="comma-separated sizes (100000,1000000)",
    )
    parser.add_argument("--workers", type=int, default=1, help="the service's workers (1)")
    parser.add_argument(
        "--batch-connections",
        type=int,
        default=2,
        help="concurrent batch requests of the batch-endpoint step (2)",
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed of the items (7)")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432"),
        help="PostgreSQL server (a database of its own is created and dropped)",
    )
    parser.add_argument("--output", type=Path, help="results directory (benchmarks/results)")


def run(args: argparse.Namespace) -> int:
    started = datetime.now(UTC)
    sizes = [int(size) for size in args.items.split(",")]
    name = f"bench_bulk_{common.run_id()}"
    dsn = f"{args.pg_url}/{name}"
    work = HERE / ".work" / name
    owner, _ = database.prepare_database(args.pg_url, name, 0, args.seed, work / "data")
    pg_version = asyncio.run(database.postgres_version(dsn))
    environment = common.environment(pg_version)
    files = {size: _write_items(work, size, args.seed) for size in sizes}
    largest = max(path.stat().st_size for path, _ in files.values())
    port = servers.free_ports(1)[0]
    spec = servers.specs(
        dsn=dsn,
        secret_key=common.SECRET_KEY,
        owner_id=owner,
        api_key="",
        workers=args.workers,
        pool_size=10,
        access_log=True,
        ports=(port, 0, 0),
    )["items-api"]
    # An import of the largest file must fit; everything else is the production settings.
    spec.env["IMPORT_MAX_BYTES"] = str(largest + 1)
    server = servers.start(spec, work / "logs")
    steps: list[dict[str, Any]] = []
    try:
        key = clients.api_key(server.url)
        for size in sizes:
            ndjson, csv_path = files[size]
            steps += _size(args, dsn, server, key, owner, size, ndjson, csv_path, work)
    finally:
        servers.stop(server)
        asyncio.run(database.drop_database(args.pg_url, name))
    shutil.rmtree(work, ignore_errors=True)
    document = {
        "started_at": started.isoformat(timespec="seconds"),
        "command": "python -m benchmarks " + " ".join(sys.argv[1:]),
        "environment": environment,
        "settings": {
            "workers": args.workers,
            "batch_connections": args.batch_connections,
            "import_max_bytes": largest + 1,
        },
        "steps": steps,
    }
    output = args.output or HERE / "results"
    output.mkdir(parents=True, exist_ok=True)
    stem = output / f"{started:%Y-%m-%d}-{socket.gethostname()}-bulk"
    stem.with_suffix(".json").write_text(json.dumps(document, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown(document))
    print(markdown(document))
    return 0


def _size(
    args: argparse.Namespace,
    dsn: str,
    server: servers.Running,
    key: str,
    owner: str,
    size: int,
    ndjson: Path,
    csv_path: Path,
    work: Path,
) -> list[dict[str, Any]]:
    """Every step for `size` items, in an order that leaves each its starting table."""
    auth = f"X-API-Key: {key}"
    steps = []

    def step(name: str, action: Callable[[], None]) -> None:
        _settle(dsn, server)
        with _MemoryPeak(server.process.pid) as memory:
            begun = time.perf_counter()
            action()
            seconds = time.perf_counter() - begun
        steps.append(
            {
                "items": size,
                "step": name,
                "seconds": round(seconds, 2),
                "items_per_second": round(size / seconds),
                "server_memory_growth_mb": round(memory.growth / 2**20, 1),
                "server_memory_before_mb": round(memory.before / 2**20, 1),
            }
        )
        log(
            f"{size:>9,} {name:<42} {seconds:7.2f} s {size / seconds:>10,.0f} items/s,"
            f" server memory +{memory.growth / 2**20:.1f} MB"
        )

    _empty(dsn)
    step("import (NDJSON)", lambda: _import(server.url, auth, ndjson, size))
    asyncio.run(database.vacuum(dsn))
    for format_ in ("ndjson", "csv"):
        step(
            f"export ({format_.upper()})",
            lambda f=format_: _export(server.url, auth, f, size, work),  # type: ignore[misc]
        )
    step("psql export (\\copy of item_json)", lambda: _psql_export(dsn, size, work))
    _empty(dsn)
    step("psql COPY + INSERT (the import's ceiling)", lambda: _psql_import(dsn, owner, csv_path))
    _empty(dsn)
    _triggers(dsn, enabled=False)
    try:
        step("psql COPY + INSERT, no search sync", lambda: _psql_import(dsn, owner, csv_path))
    finally:
        _triggers(dsn, enabled=True)
    _empty(dsn)
    step(
        f"batch endpoint ({BATCH_SIZE:,} a request, {args.batch_connections} at once)",
        lambda: _batches(server, key, ndjson, args.batch_connections),
    )
    _empty(dsn)
    return steps


def _write_items(work: Path, size: int, rng_seed: int) -> tuple[Path, Path]:
    """`size` new items, with their ids, as an import body (NDJSON) and as CSV rows of the
    import's temporary table (line_number, id, name, description, tags, metadata) for psql."""
    rng = random.Random(rng_seed + size)
    work.mkdir(parents=True, exist_ok=True)
    ndjson = work / f"items-{size}.ndjson"
    rows = work / f"items-{size}.csv"
    with ndjson.open("w") as lines, rows.open("w", newline="") as table:
        writer = csv.writer(table)
        for number in range(1, size + 1):
            item = {"id": str(random_uuid(rng)), **random_item(rng)}
            lines.write(json.dumps(item, separators=(",", ":"), ensure_ascii=False) + "\n")
            tags = "{" + ",".join(_array_element(tag) for tag in item["tags"]) + "}"  # type: ignore[attr-defined]
            writer.writerow(
                [
                    number,
                    item["id"],
                    item["name"],
                    item["description"] if item["description"] is not None else "",
                    tags,
                    json.dumps(item["metadata"]),
                ]
            )
    log(f"wrote {size:,} items: {ndjson.stat().st_size / 2**20:.1f} MB of NDJSON")
    return ndjson, rows


def _array_element(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _curl(*args: str) -> str:
    done = subprocess.run(
        ["curl", "-sS", "--fail-with-body", *args],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"curl {' '.join(args[:3])} failed: {done.stderr}{done.stdout[-2000:]}")
    return done.stdout


def _import(url: str, auth: str, body: Path, size: int) -> None:
    answer = json.loads(
        _curl(
            "-X",
            "POST",
            "-T",
            str(body),
            "-H",
            auth,
            "-H",
            "Content-Type: application/x-ndjson",
            f"{url}/api/v1/items/import",
        )
    )
    if answer.get("created") != size:
        raise RuntimeError(f"the import answered {answer}, not {size} items created")


def _export(url: str, auth: str, format_: str, size: int, work: Path) -> None:
    target = work / f"export.{format_}"
    _curl("-o", str(target), "-H", auth, f"{url}/api/v1/items/export?format={format_}")
    with target.open("rb") as exported:
        lines = sum(1 for _ in exported)
        exported.seek(max(0, target.stat().st_size - 200))
        tail = exported.read().decode(errors="replace")
    # The completeness line (docs/api.md, "Export"): `{"export":"complete","count":N}` or, in CSV,
    # `#export,complete,N,,,,,`; the CSV's header row comes first.
    header, last = (1, f"complete,{size},") if format_ == "csv" else (0, f'"count":{size}')
    if lines != size + header + 1 or last not in tail.replace(" ", ""):
        raise RuntimeError(f"the {format_} export has {lines} lines, ending {tail[-120:]!r}")
    target.unlink()


def _psql(dsn: str, script: str) -> None:
    subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn],
        input=script,
        text=True,
        capture_output=True,
        timeout=3600,
        check=True,
    )


def _psql_export(dsn: str, size: int, work: Path) -> None:
    target = work / "psql-export.txt"
    _psql(
        dsn,
        f"{PSQL_EXPORT} TO '{target}'\n",
    )
    with target.open("rb") as exported:
        if sum(1 for _ in exported) != size:
            raise RuntimeError("psql exported another number of items")
    target.unlink()


def _psql_import(dsn: str, owner: str, rows: Path) -> None:
    upsert = load("items/import_upsert").strip().rstrip(";")
    _psql(
        dsn,
        "BEGIN;\n"
        f"{load('session/create_item_import')}\n"
        f"\\copy item_import FROM '{rows}' WITH (FORMAT csv)\n"
        f"PREPARE write_import(uuid, boolean) AS {upsert};\n"
        f"EXECUTE write_import('{owner}', false);\n"
        "COMMIT;\n",
    )


def _batches(server: servers.Running, key: str, body: Path, connections: int) -> None:
    """The items of `body` through the batch endpoint, BATCH_SIZE a request, `connections` at
    once, each on a kept-alive connection."""
    chunks = iter(_chunks(body))
    lock = threading.Lock()
    failures: list[str] = []

    def send() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.spec.port, timeout=300)
        try:
            while not failures:
                with lock:
                    chunk = next(chunks, None)
                if chunk is None:
                    return
                connection.request(
                    "POST",
                    "/api/v1/items/batch",
                    body=chunk,
                    headers={"Content-Type": "application/json", "X-API-Key": key},
                )
                reply = connection.getresponse()
                answer = reply.read()
                if reply.status != 200:
                    failures.append(f"{reply.status}: {answer[:500]!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"a batch failed: {failures[0]}")


def _chunks(body: Path) -> Iterator[bytes]:
    with body.open("rb") as lines:
        while chunk := [
            line.rstrip(b"\n") for _, line in zip(range(BATCH_SIZE), lines, strict=False)
        ]:
            yield b"[" + b",".join(chunk) + b"]"


def _empty(dsn: str) -> None:
    async def empty() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(tooling("bench_empty_items"))
        finally:
            await connection.close()

    asyncio.run(empty())
    asyncio.run(database.vacuum(dsn))


def _triggers(dsn: str, *, enabled: bool) -> None:
    action = "ENABLE" if enabled else "DISABLE"
    _psql(dsn, "".join(f"ALTER TABLE items {action} TRIGGER {t};\n" for t in SEARCH_TRIGGERS))


def _settle(dsn: str, server: servers.Running) -> None:
    asyncio.run(database.quiesce(dsn))
    servers.settle(server)


class _MemoryPeak:
    """The resident size of a process group, before and at its peak while the block runs."""

    def __init__(self, group: int) -> None:
        self.group = group
        self.before = 0
        self.peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @property
    def growth(self) -> int:
        return max(0, self.peak - self.before)

    def __enter__(self) -> _MemoryPeak:
        self.before = self.peak = _resident(self.group)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._done.wait(0.02):
            self.peak = max(self.peak, _resident(self.group))


def _resident(group: int) -> int:
    """Bytes resident in the processes of `group` (VmRSS of /proc/PID/status)."""
    total = 0
    for pid in servers.pids(group):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def markdown(document: dict[str, Any]) -> str:
    env = document["environment"]
    settings = document["settings"]
    lines = [
        f"# Export and import, {document['started_at']}",
        "",
        f"`{document['command']}` at commit {env['commit']} on {env['cpu']} ({env['cpus']} CPUs),"
        f" {env['postgres']}: the items API with {settings['workers']} worker(s) and"
        f" IMPORT_MAX_BYTES={settings['import_max_bytes']:,}; each write from an empty table."
        " Memory: the server's resident size (all its processes), peak during the step less"
        " before it.",
        "",
        "| items | step | seconds | items/s | vs ceiling | server memory growth MB |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for size in sorted({step["items"] for step in document["steps"]}):
        rows = [step for step in document["steps"] if step["items"] == size]
        ceilings = {
            "import": _rate(rows, "psql COPY + INSERT (the import's ceiling)"),
            "export": _rate(rows, "psql export (\\copy of item_json)"),
        }
        for step in rows:
            kind = "export" if "export" in step["step"] else "import"
            ceiling = ceilings[kind]
            ratio = f"{step['items_per_second'] / ceiling:.2f}" if ceiling else "-"
            lines.append(
                f"| {size:,} | {step['step']} | {step['seconds']:.2f} |"
                f" {step['items_per_second']:,} | {ratio} | {step['server_memory_growth_mb']:.1f} |"
            )
    lines.append("")
    lines.append(
        "`vs ceiling`: items/s over psql's for the same work (imports and the batch endpoint"
        " against `psql COPY + INSERT`, exports against `psql export`)."
    )
    return "\n".join(lines) + "\n"


def _rate(rows: list[dict[str, Any]], step: str) -> float | None:
    return next((row["items_per_second"] for row in rows if row["step"] == step), None)
