"""`python -m api sql check`: proves every statement in `sql/` prepares and uses its index.

Each statement is prepared the way asyncpg prepares it, then explained twice: with the sample
parameters bound (the custom plan) and, on a connection with plan_cache_mode=force_generic_plan,
through EXECUTE of the prepared statement (the generic plan PostgreSQL may switch to after five
executions). Nothing executes: EXPLAIN without ANALYZE only plans, inside a rolled-back transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg

from api.sqltools.headers import Header
from api.sqltools.plans import PlanFacts, read_plan
from api.sqltools.samples import SAMPLES
from api.sqltools.statements import BadStatement, Statement, tooling
from queries.codecs import init_connection
from queries.pool import PLANNER_SETTINGS

# A table the planner estimates at this many rows or more must never be read by a Seq Scan.
LARGE_TABLE_ROWS = 10_000

# Header spellings of types that PostgreSQL names differently.
_TYPE_NAMES = {
    "integer": "int4",
    "int": "int4",
    "bigint": "int8",
    "smallint": "int2",
    "boolean": "bool",
    "real": "float4",
    "double precision": "float8",
}


@dataclass
class Outcome:
    name: str
    custom: PlanFacts | None = None
    generic: PlanFacts | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Database:
    """What the check knows about the database: table sizes and index owners."""

    table_rows: dict[str, int]
    index_tables: dict[str, str]

    def large(self, table: str, threshold: int) -> bool:
        return self.table_rows.get(table, 0) >= threshold


async def connect(url: str, *, generic: bool) -> asyncpg.Connection:
    settings = {
        **PLANNER_SETTINGS,
        "plan_cache_mode": "force_generic_plan" if generic else "auto",
    }
    connection = await asyncpg.connect(url, server_settings=settings)
    await init_connection(connection)  # the service's codecs, so samples encode as in production
    return connection


async def describe(connection: asyncpg.Connection) -> Database:
    tables = await connection.fetch(tooling("table_rows"))
    indexes = await connection.fetch(tooling("indexes"))
    return Database(
        {row["table_name"]: row["estimated_rows"] for row in tables},
        {row["index_name"]: row["table_name"] for row in indexes},
    )


async def check_all(
    url: str,
    statements: list[Statement],
    bad: list[BadStatement],
    *,
    large_table_rows: int = LARGE_TABLE_ROWS,
) -> list[Outcome]:
    custom = await connect(url, generic=False)
    generic = await connect(url, generic=True)
    try:
        database = await describe(custom)
        outcomes = [Outcome(b.name, problems=[b.error]) for b in bad if not _is_tooling(b.name)]
        # The temporary tables the service creates (sql/session/create_*), which some statements
        # read: created in each check's transaction, as in the service's.
        temporary = [s.text for s in statements if s.name.startswith(_TEMPORARY_TABLES)]
        for number, statement in enumerate(s for s in statements if s.is_planned):
            outcome = await _check(custom, generic, statement, f"sqlcheck_{number}", temporary)
            outcome.problems.extend(_judge(statement.header, outcome, database, large_table_rows))
            outcomes.append(outcome)
    finally:
        await custom.close()
        await generic.close()
    unknown = sorted(set(SAMPLES) - {s.name for s in statements})
    outcomes.extend(
        Outcome(name, problems=["a sample exists for a missing file"]) for name in unknown
    )
    return sorted(outcomes, key=lambda o: o.name)


def _is_tooling(name: str) -> bool:
    return name.startswith("tooling/")


_TEMPORARY_TABLES = "session/create_"


async def _check(
    custom: asyncpg.Connection,
    generic: asyncpg.Connection,
    statement: Statement,
    label: str,
    temporary: list[str],
) -> Outcome:
    outcome = Outcome(statement.name)
    params = SAMPLES.get(statement.name)
    if params is None:
        outcome.problems.append(f"no sample parameters: add {statement.name!r} to samples.py")
        return outcome
    transaction = custom.transaction()
    await transaction.start()
    other = generic.transaction()
    await other.start()
    try:
        for definition in temporary:
            await custom.execute(definition)
            await generic.execute(definition)
        prepared = await generic.prepare(statement.text, name=label)
        outcome.problems.extend(_parameter_problems(statement.header, prepared, params))
        if outcome.problems:
            return outcome
        if statement.explains:
            outcome.custom = _explained(await custom.fetchval(statement.text, *params))
            return outcome
        outcome.custom = read_plan(await custom.fetchval(_EXPLAIN + statement.text, *params))
        # force_generic_plan makes EXECUTE use the generic plan, whatever the values passed.
        nulls = f"({', '.join('NULL' for _ in params)})" if params else ""
        outcome.generic = read_plan(await generic.fetchval(f"{_EXPLAIN}EXECUTE {label}{nulls}"))
    except asyncpg.PostgresError as exc:
        outcome.problems.append(f"does not prepare or plan: {type(exc).__name__}: {exc}")
    finally:
        await transaction.rollback()
        await other.rollback()
    return outcome


_EXPLAIN = "EXPLAIN (FORMAT JSON) "


def _explained(answer: str) -> PlanFacts:
    """What an EXPLAIN statement reads: no index and no table (its plan is its answer, shown in
    the summary). It has no generic plan: PostgreSQL plans the query of a utility statement for
    the values of each execution."""
    plan = read_plan(answer)
    return PlanFacts(f"EXPLAIN only: {plan.summary}", frozenset(), frozenset(), plan.total_cost)


def _parameter_problems(
    header: Header, prepared: asyncpg.prepared_stmt.PreparedStatement, params: tuple[Any, ...]
) -> list[str]:
    actual = [t.name for t in prepared.get_parameters()]
    declared = [_TYPE_NAMES.get(p.type, p.type) for p in header.parameters]
    problems = []
    if actual != declared:
        problems.append(f"header parameters {declared} but PostgreSQL infers {actual}")
    if len(params) != len(actual):
        problems.append(
            f"samples.py has {len(params)} parameters; the statement takes {len(actual)}"
        )
    return problems


def _judge(header: Header, outcome: Outcome, database: Database, threshold: int) -> list[str]:
    problems = []
    for name in (name for ref in header.indexes for name in ref.names):
        if name not in database.index_tables:
            problems.append(f"header names index {name}, which does not exist")
    plans = [("custom", outcome.custom), ("generic", outcome.generic)]
    for kind, plan in plans:
        if plan is None:
            continue
        for table in sorted(plan.seq_scanned):
            if database.large(table, threshold):
                rows = database.table_rows[table]
                problems.append(f"{kind} plan: Seq Scan on {table} (~{rows:,} rows)")
        for ref in header.indexes:
            if not ref.enforces_uniqueness and plan.indexes.isdisjoint(ref.names):
                problems.append(f"{kind} plan does not use {' or '.join(ref.names)}")
        unnamed = sorted(plan.indexes - {name for ref in header.indexes for name in ref.names})
        if unnamed:
            problems.append(
                f"{kind} plan uses {', '.join(unnamed)}, which the header does not name"
            )
    return problems
