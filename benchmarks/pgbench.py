"""pgbench running the very statements of sql/items/, as the database's own ceiling.

The statements are read from the SQL files. pgbench can only make numbers with `\\set`, not uuids,
text arrays or JSON, so each `$N` becomes a typed literal (`'…'::uuid`, the type taken from the
file's header comment) and the runner writes many scripts per endpoint, each with values sampled
from the seeded data; pgbench picks one at random for each transaction (`-f a.sql@1 -f b.sql@1 …`).
With `-M prepared` each script's statement is parsed and planned once per connection, as asyncpg
does with its statement cache.
"""

from __future__ import annotations

import json
import os
import random
import re
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from api.sqltools.statements import tooling
from benchmarks import seed as seeding
from queries.pool import PLANNER_SETTINGS

ROOT = Path(__file__).resolve().parent.parent
SQL = ROOT / "sql" / "items"
_PARAM_TYPE = re.compile(r"^--\s+\$(\d+)\s+([a-z ]+(?:\s*\[\])?)\s*:", re.MULTILINE)
_PARAM = re.compile(r"\$(\d+)(?!\d)")
MAX_SCRIPTS = 100  # pgbench accepts at most 128 scripts

# Which statement, and which parameters, stand for each HTTP endpoint.
ENDPOINTS = {
    "get_by_id": "get_by_id",
    "list_by_tag": "list_by_tags_any",
    "fuzzy_search": "search_by_word",  # the sample searches are one word each
    "create": "create",
    "upsert": "upsert",
    "patch": "patch",
    "bulk_upsert_1000": "upsert_batch",
}


def parameter_types(sql: str) -> dict[int, str]:
    return {int(n): kind.replace(" ", "") for n, kind in _PARAM_TYPE.findall(sql)}


class Expression(str):
    """SQL put in place of a parameter as it is, not as a literal."""


def _literal(value: object, kind: str) -> str:
    if isinstance(value, Expression):
        return f"({value})::{kind}"
    if value is None:
        return f"NULL::{kind}"
    if kind == "jsonb":
        # ", " and ": " keep pgbench from reading `:word` inside JSON as one of its variables.
        text = json.dumps(value, separators=(", ", ": "))
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, list):
        text = "{" + ",".join('"' + str(v).replace('"', '\\"') + '"' for v in value) + "}"
    else:
        text = str(value)
    return "'" + text.replace("'", "''") + "'::" + kind


def substitute(sql: str, values: dict[int, object]) -> str:
    types = parameter_types(sql)
    missing = set(values) - set(types)
    if missing:
        raise ValueError(f"no header type for parameters {sorted(missing)}")
    lines = sql.splitlines()
    return "\n".join(
        line
        if line.lstrip().startswith("--")
        else _PARAM.sub(lambda m: _literal(values[int(m[1])], types[int(m[1])]), line)
        for line in lines
    )


def _values(
    endpoint: str, rng: random.Random, ids: list[str], owner: str, queries: list[str]
) -> dict[int, object]:
    window = {1: 51, 2: "-infinity", 3: "infinity"}
    if endpoint == "get_by_id":
        return {1: rng.choice(ids)}
    if endpoint == "list_by_tag":
        return {
            **window,
            4: "infinity",
            5: "ffffffff-ffff-ffff-ffff-ffffffffffff",
            6: [rng.choice(seeding.TAGS)],
            7: None,  # fields: the whole item
        }
    if endpoint == "fuzzy_search":
        word = rng.choice(queries)
        return {
            **window,
            1: 21,
            4: 2.0,
            5: "ffffffff-ffff-ffff-ffff-ffffffffffff",
            6: word,
            7: None,
            8: None,
            9: None,
            10: None,  # fields: the whole item
        }
    item = seeding.random_item(rng)
    if endpoint == "create":
        return {
            1: item["name"],
            2: item["description"],
            3: item["tags"],
            4: item["metadata"],
            5: owner,
            6: seeding.NO_QUOTA,
        }
    if endpoint == "upsert":
        return {
            1: rng.choice(ids),
            2: item["name"],
            3: item["description"],
            4: item["tags"],
            5: item["metadata"],
            6: owner,
            7: True,
            8: seeding.NO_QUOTA,
        }
    if endpoint == "patch":
        return {
            1: rng.choice(ids),
            2: None,
            3: False,
            4: None,
            5: item["tags"],
            6: None,
            7: None,
            8: owner,
            9: True,
        }
    raise ValueError(endpoint)


def write_scripts(
    work: Path,
    endpoint: str,
    ids: list[str],
    owner: str,
    batches: list[Path],
    count: int,
    queries: list[str],
) -> list[Path]:
    """Scripts for one endpoint, with values drawn from the same samples the wrk scripts use."""
    statement = (SQL / f"{ENDPOINTS[endpoint]}.sql").read_text()
    out = work / "pgbench" / endpoint
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.sql"):
        old.unlink()
    rng = random.Random(f"pgbench-{endpoint}")
    paths = []
    if endpoint == "bulk_upsert_1000":
        # The service runs the batch in a transaction; so does this script.
        take = _statement_text(tooling("bench_batch_next")).replace("$1", str(len(batches)))
        body = Expression(_statement_text(tooling("bench_batch_body")).replace("$1", ":batch"))
        text = substitute(statement, {1: body, 2: owner, 3: True})
        path = out / "in_order.sql"
        path.write_text(f"{take} \\gset\nBEGIN;\n{text}\nCOMMIT;\n")
        return [path]
    for number in range(min(count, MAX_SCRIPTS)):
        path = out / f"{number:03d}.sql"
        path.write_text(substitute(statement, _values(endpoint, rng, ids, owner, queries)) + "\n")
        paths.append(path)
    return paths


def _statement_text(sql: str) -> str:
    """One line of SQL without comments or the final semicolon, for `\\gset` to follow."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return " ".join(" ".join(lines).split()).rstrip(";")


async def load_batches(dsn: str, batches: Sequence[Path]) -> None:
    """Store the bulk bodies, in the order the wrk script walks them, for the bulk script."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(tooling("bench_batches_create"))
        await connection.execute(tooling("bench_batch_position_create"))
        await connection.execute(
            tooling("bench_batches_load"),
            list(range(len(batches))),
            [path.read_text() for path in batches],
        )
    finally:
        await connection.close()


async def batch_position(dsn: str, start: int | None = None) -> int:
    """The position of pgbench's next bulk body; set to `start` first when given."""
    connection = await asyncpg.connect(dsn)
    try:
        if start is not None:
            await connection.fetchval(tooling("bench_batch_position_set"), start)
        position: int = await connection.fetchval(tooling("bench_batch_position_get"))
        return position
    finally:
        await connection.close()


@dataclass
class PgbenchResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    raw: str


def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def run(
    pgbench: str,
    dbname: str,
    scripts: list[Path],
    *,
    clients: int,
    threads: int,
    seconds: int,
    log_dir: Path,
    host: str = "127.0.0.1",
    port: int = 5432,
    user: str = "postgres",
) -> PgbenchResult:
    log_dir.mkdir(parents=True, exist_ok=True)
    for old in log_dir.glob("pgbench_log*"):
        old.unlink()
    prefix = log_dir / "pgbench_log"
    command = [
        pgbench,
        "-n",
        "-M",
        "prepared",
        "-h",
        host,
        "-p",
        str(port),
        "-U",
        user,
        "-c",
        str(clients),
        "-j",
        str(threads),
        "-T",
        str(seconds),
        "-l",
        "--log-prefix",
        str(prefix),
    ]
    for script in scripts:
        command += ["-f", f"{script}@1"]
    command.append(dbname)
    # The planner settings the service's pool sets, so that both plan the statements alike.
    options = " ".join(f"-c {name}={value}" for name, value in PLANNER_SETTINGS.items())
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=False,
        env={**os.environ, "PGOPTIONS": options},
    )
    output = done.stdout + done.stderr
    if done.returncode != 0 and "processed" not in output:
        raise RuntimeError(f"pgbench failed ({done.returncode}):\n{output[-3000:]}")
    latencies: list[float] = []
    for log in log_dir.glob("pgbench_log*"):
        for line in log.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3:
                latencies.append(int(fields[2]) / 1000.0)  # microseconds -> ms
    latencies.sort()
    processed = re.search(r"number of transactions actually processed:\s*(\d+)", output)
    failed = re.search(r"number of failed transactions:\s*(\d+)", output)
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", output)
    requests = int(processed[1]) if processed else len(latencies)
    return PgbenchResult(
        requests=requests,
        seconds=float(seconds),
        rps=float(tps[1]) if tps else requests / seconds,
        p50_ms=_percentile(latencies, 0.50),
        p90_ms=_percentile(latencies, 0.90),
        p99_ms=_percentile(latencies, 0.99),
        max_ms=latencies[-1] if latencies else 0.0,
        errors=int(failed[1]) if failed else (0 if done.returncode == 0 else 1),
        raw=output[-1500:] + (f"\nmean {statistics.fmean(latencies):.3f} ms" if latencies else ""),
    )
