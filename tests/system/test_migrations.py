"""Migrations on a database of their own: up, idempotence, status, step-by-step rollback, and
`down --all` leaving nothing behind. Both through `python -m api migrate` and api.migrate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from yoyo import get_backend, read_migrations

from api import migrate
from tests import ROOT
from tests.conftest import TEST_SECRET_KEY
from tests.database import fresh_database

MIGRATION_IDS = sorted(
    path.name.removesuffix(".sql")
    for path in migrate.MIGRATIONS_DIR.glob("*.sql")
    if not path.name.endswith(".rollback.sql")
)
APP_TABLES = {"items", "users", "api_keys", "login_throttle"}
YOYO_TABLES = {"_yoyo_log", "_yoyo_migration", "_yoyo_version", "yoyo_lock"}

# Everything a migration can leave in the database, each as sorted text rows. Only yoyo's own
# tables are left out of the comparison (they record the migrations themselves). Whether a
# constraint is validated is not compared: validating a NOT VALID constraint cannot be undone and
# its rollback is rightly a no-op (the constraint itself goes with the migration that added it).
SCHEMA_QUERIES = {
    "relations": """
        SELECT c.relname || ':' || c.relkind::text FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relname NOT LIKE '%yoyo%'""",
    "columns": """
        SELECT table_name || '.' || column_name || ':' || data_type || ':' || is_nullable
            || ':' || coalesce(column_default, '')
        FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name NOT LIKE '%yoyo%'""",
    "constraints": """
        SELECT conrelid::regclass::text || ':' || conname || ':'
            || replace(pg_get_constraintdef(oid), ' NOT VALID', '')
        FROM pg_constraint
        WHERE connamespace = 'public'::regnamespace
            AND conrelid::regclass::text NOT LIKE '%yoyo%'""",
    "indexes": """
        SELECT indexdef FROM pg_indexes
        WHERE schemaname = 'public' AND tablename NOT LIKE '%yoyo%'""",
    "functions": """
        SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'
        FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace""",
    "triggers": """
        SELECT tgrelid::regclass::text || ':' || tgname FROM pg_trigger WHERE NOT tgisinternal""",
    "types": """
        SELECT t.typname FROM pg_type t
        WHERE t.typnamespace = 'public'::regnamespace AND t.typname NOT LIKE '%yoyo%'""",
    "extensions": "SELECT extname FROM pg_extension",
    "comments": """
        SELECT objoid::regclass::text || ':' || objsubid || ':' || description
        FROM pg_description d JOIN pg_class c ON c.oid = d.objoid
        WHERE d.classoid = 'pg_class'::regclass
            AND c.relnamespace = 'public'::regnamespace""",
}

Schema = dict[str, list[str]]


def schema_of(url: str) -> Schema:
    with psycopg.connect(url) as conn:
        return {
            name: sorted(row[0] for row in conn.execute(query).fetchall())
            for name, query in SCHEMA_QUERIES.items()
        }


def public_tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    return {row[0] for row in rows}


def cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m api migrate ARGS` with DATABASE_URL set, stdin closed (no prompt may wait)."""
    env = {**os.environ, "DATABASE_URL": url, "ENVIRONMENT": "test", "SECRET_KEY": TEST_SECRET_KEY}
    return subprocess.run(  # our own interpreter and module, fixed arguments
        [sys.executable, "-m", "api", "migrate", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def events(stdout: str) -> list[dict[str, Any]]:
    """The command's log lines; each must be one JSON object, and none may name a password."""
    lines = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    assert all(isinstance(line, dict) and "event" in line for line in lines), stdout
    return lines


@pytest.fixture
def empty_database(server_url: str) -> Iterator[str]:
    """A database of this test alone, never touched by the shared app's fixtures."""
    with fresh_database(server_url, prefix="items_migrations") as url:
        yield url


def test_there_are_migrations_each_with_a_rollback() -> None:
    assert MIGRATION_IDS[0] == "0001_extensions"
    for migration_id in MIGRATION_IDS:
        assert (migrate.MIGRATIONS_DIR / f"{migration_id}.rollback.sql").is_file(), migration_id


def test_cli_up_status_down_all_and_up_again(empty_database: str) -> None:
    url = empty_database
    pristine = schema_of(url)

    status = cli(url, "status")
    assert status.returncode == 0, status.stderr
    assert status.stdout.split("\n")[: len(MIGRATION_IDS)] == [
        f"pending  {migration_id}" for migration_id in MIGRATION_IDS
    ]

    up = cli(url, "up")
    assert up.returncode == 0, up.stderr
    # Progress is log lines, each one JSON object (stdout is not a terminal here).
    assert events(up.stdout)[-1]["event"] == "migrations applied"
    assert events(up.stdout)[-1]["migrations"] == MIGRATION_IDS
    assert "database created" not in up.stdout  # the fixture made it
    assert public_tables(url) >= APP_TABLES
    migrated = schema_of(url)

    again = cli(url, "up")
    assert again.returncode == 0, again.stderr
    assert [e["event"] for e in events(again.stdout)] == ["migrations up to date"]
    assert schema_of(url) == migrated

    status = cli(url, "status")
    assert status.stdout.splitlines() == [f"applied  {m}" for m in MIGRATION_IDS]

    down_all = cli(url, "down", "--all")
    assert down_all.returncode == 0, down_all.stderr
    assert events(down_all.stdout)[-1]["migrations"] == list(reversed(MIGRATION_IDS))
    assert public_tables(url) == set()  # no app table, and none of yoyo's either
    assert schema_of(url) == pristine  # no function, trigger, type or extension left over

    again = cli(url, "down", "--all")
    assert again.returncode == 0, again.stderr
    assert [e["event"] for e in events(again.stdout)] == ["nothing to roll back"]
    assert public_tables(url) == set()

    up = cli(url, "up")
    assert up.returncode == 0, up.stderr
    assert schema_of(url) == migrated


def test_up_is_idempotent_and_status_reports_every_migration(empty_database: str) -> None:
    url = empty_database
    assert [(s.id, s.applied) for s in migrate.status(url)] == [(m, False) for m in MIGRATION_IDS]
    assert migrate.up(url) == MIGRATION_IDS
    schema = schema_of(url)
    assert migrate.up(url) == []
    assert schema_of(url) == schema
    assert [(s.id, s.applied) for s in migrate.status(url)] == [(m, True) for m in MIGRATION_IDS]


def test_down_rolls_back_only_the_latest(empty_database: str) -> None:
    url = empty_database
    migrate.up(url)
    assert migrate.down(url) == [MIGRATION_IDS[-1]]
    states = {s.id: s.applied for s in migrate.status(url)}
    assert states == {m: m != MIGRATION_IDS[-1] for m in MIGRATION_IDS}
    assert public_tables(url) >= APP_TABLES
    assert migrate.up(url) == [MIGRATION_IDS[-1]]


def test_down_via_cli_rolls_back_the_latest_without_prompting(empty_database: str) -> None:
    url = empty_database
    migrate.up(url)
    down = cli(url, "down")
    assert down.returncode == 0, down.stderr
    assert events(down.stdout)[-1]["migrations"] == [MIGRATION_IDS[-1]]
    assert [s.id for s in migrate.status(url) if not s.applied] == [MIGRATION_IDS[-1]]


def test_each_migration_rolls_back_to_exactly_the_schema_before_it(empty_database: str) -> None:
    url = empty_database
    # Apply one migration at a time (yoyo directly: api.migrate only applies everything),
    # recording the schema after each step.
    before = [schema_of(url)]
    backend = get_backend(migrate._yoyo_url(url))
    migrations = read_migrations(str(migrate.MIGRATIONS_DIR))
    with backend.lock():
        for migration in backend.to_apply(migrations):
            backend.apply_one(migration)
            before.append(schema_of(url))
    assert len(before) == len(MIGRATION_IDS) + 1
    assert all(s.applied for s in migrate.status(url))

    # Roll back one at a time with api.migrate: each step restores the schema before it.
    for step in range(len(MIGRATION_IDS), 0, -1):
        assert migrate.down(url) == [MIGRATION_IDS[step - 1]]
        assert schema_of(url) == before[step - 1], MIGRATION_IDS[step - 1]
    assert migrate.down(url) == []
    assert public_tables(url) <= YOYO_TABLES

    # And the whole way up again.
    assert migrate.up(url) == MIGRATION_IDS
    assert schema_of(url) == before[-1]


def test_down_all_leaves_nothing_behind(empty_database: str) -> None:
    url = empty_database
    pristine = schema_of(url)
    migrate.up(url)
    assert migrate.down(url, everything=True) == list(reversed(MIGRATION_IDS))
    assert public_tables(url) == set()
    assert schema_of(url) == pristine
    with psycopg.connect(url) as conn:
        extensions = {row[0] for row in conn.execute("SELECT extname FROM pg_extension")}
        functions = conn.execute(
            "SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace"
        ).fetchone()
    assert "pg_trgm" not in extensions
    assert functions == (0,)


def test_up_creates_a_missing_database(server_url: str) -> None:
    with fresh_database(server_url, prefix="items_migrations") as url:
        with psycopg.connect(url) as conn:
            name = conn.execute("SELECT current_database()").fetchone()
        assert name is not None
        missing = url.replace(name[0], name[0] + "_new")
        try:
            up = cli(missing, "up")
            assert up.returncode == 0, up.stderr
            created = events(up.stdout)[0]
            assert created["event"] == "database created"
            assert created["database"] == name[0] + "_new"
            assert public_tables(missing) >= APP_TABLES
        finally:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name[0]}_new" WITH (FORCE)')


def test_status_reads_without_creating_anything(empty_database: str) -> None:
    states = migrate.status(empty_database)
    assert states
    assert not any(state.applied for state in states)
    assert public_tables(empty_database) == set()


def test_item_tags_and_name_words_are_backfilled_from_existing_items(empty_database: str) -> None:
    url = empty_database
    migrate.up(url)
    # Back to before the sync trigger, to write items it does not see; later migrations first.
    rolled_back: list[str] = []
    while "0009_item_tags_and_words" not in rolled_back:
        rolled_back += migrate.down(url)
    assert rolled_back[-3:] == [
        "0011_sync_item_search_plain_inserts",
        "0010_item_json",
        "0009_item_tags_and_words",
    ]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO items (name, tags) VALUES"
            " ('Red chair', '{home,sale}'), ('blue-lamp 2000', '{home}'), ('plain', '{}')"
        )
    assert migrate.up(url) == rolled_back[::-1]
    with psycopg.connect(url) as conn:
        pairs = conn.execute(
            "SELECT t.tag, i.name FROM item_tags AS t JOIN items AS i ON i.id = t.item_id"
            " AND i.created_at = t.created_at ORDER BY 1, 2"
        ).fetchall()
        words = [word for (word,) in conn.execute("SELECT word FROM name_words ORDER BY word")]
        word_pairs = conn.execute(
            "SELECT w.word, i.name FROM item_words AS w JOIN items AS i ON i.id = w.item_id"
            " WHERE w.word = 'chair'"
        ).fetchall()
    assert pairs == [
        ("home", "Red chair"),
        ("home", "blue-lamp 2000"),
        ("sale", "Red chair"),
    ]
    assert words == ["2000", "blue", "chair", "lamp", "plain", "red"]
    assert word_pairs == [("chair", "Red chair")]


def test_0014_normalizes_existing_rows_and_rebuilds_the_search_tables(empty_database: str) -> None:
    url = empty_database
    migrate.up(url)
    rolled_back: list[str] = []
    while "0014_search_unicode_and_typos" not in rolled_back:
        rolled_back += migrate.down(url)
    zurich, cafe = "Zu\u0308rich map", "cafe\u0301"  # decomposed, as written before 0014
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO items (name, description, tags)"
            " VALUES (%s, %s, %s), ('plain', NULL, '{}')",
            (zurich, "Cre\u0300me", [cafe, " garden ", "café", "   ", "Garden", "x", "x"]),
        )
        before = {word for (word,) in conn.execute("SELECT word FROM name_words")}
    assert {"zu", "rich"} <= before
    assert migrate.up(url) == sorted(rolled_back)
    with psycopg.connect(url) as conn:
        name, description, tags = conn.execute(
            "SELECT name, description, tags FROM items WHERE name <> 'plain'"
        ).fetchone() or ("", "", [])
        words = {word for (word,) in conn.execute("SELECT word FROM name_words")}
        pairs = conn.execute("SELECT word FROM item_words ORDER BY word").fetchall()
        tag_pairs = conn.execute("SELECT tag FROM item_tags ORDER BY tag").fetchall()
        deletions = conn.execute(
            "SELECT deletion FROM name_word_deletions WHERE word = 'zurich' ORDER BY deletion"
        ).fetchall()
    assert (name, description) == ("Zürich map", "Crème")
    assert tags == ["café", "garden", "Garden", "x"]
    assert words == {"zurich", "map", "plain"}
    assert [word for (word,) in pairs] == ["map", "plain", "zurich"]
    assert [tag for (tag,) in tag_pairs] == ["Garden", "café", "garden", "x"]
    assert [d for (d,) in deletions] == [
        "urich",
        "zrich",
        "zuich",
        "zurch",
        "zuric",
        "zurich",
        "zurih",
    ]


def test_numbers_stored_before_the_print_bound_become_strings(empty_database: str) -> None:
    """Rows stored before metadata numbers were bounded (1e131071 prints 131,072 characters) are
    rewritten by 0019 so that every read can print them; other numbers and rows stay as they
    were."""
    url = empty_database
    migrate.up(url)
    backend = get_backend(migrate._yoyo_url(url))
    (repair,) = backend.to_rollback(
        read_migrations(str(migrate.MIGRATIONS_DIR)).filter(
            lambda m: m.id == "0019_bounded_metadata_numbers"
        )
    )
    with backend.lock():
        backend.rollback_one(repair)
    poison = '{"n": 1e131071, "m": -1e-16383, "ok": 1.10, "list": [1e2000, "x", 1e400]}'
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO items (name, metadata) VALUES ('poison', %s), ('plain', %s)",
            (poison, '{"a": 1e3}'),
        )
    with backend.lock():
        backend.apply_one(repair)
    with psycopg.connect(url, autocommit=True) as connection:
        rows = dict(connection.execute("SELECT name, item_json(i)::text FROM items AS i"))
    poisoned = json.loads(rows["poison"])["metadata"]
    assert poisoned["n"] == "1e+131071"
    assert poisoned["m"] == "-1e-16383"
    assert poisoned["list"][:2] == ["1e+2000", "x"]
    assert str(poisoned["list"][2]) == "1" + "0" * 400
    assert len(rows["poison"]) < 2000
    assert '"ok":1.10' in rows["poison"].replace(" ", "")
    assert json.loads(rows["plain"])["metadata"] == {"a": 1000}


def test_item_counts_are_backfilled_from_existing_items(empty_database: str) -> None:
    """0020 counts the items each user owned before it, once; items without an owner, or whose
    owner is gone, are not counted."""
    url = empty_database
    migrate.up(url)
    backend = get_backend(migrate._yoyo_url(url))
    (counts,) = backend.to_rollback(
        read_migrations(str(migrate.MIGRATIONS_DIR)).filter(lambda m: m.id == "0020_item_counts")
    )
    with backend.lock():
        backend.rollback_one(counts)
    with psycopg.connect(url, autocommit=True) as connection:
        owner = connection.execute(
            "INSERT INTO users (email, password_hash, scopes) VALUES ('o@example.com', 'x', '{}')"
            " RETURNING id"
        ).fetchone()
        assert owner is not None
        connection.execute(
            "INSERT INTO items (name, owner_id) SELECT 'n' || n, %s FROM generate_series(1, 7) n",
            (owner[0],),
        )
        connection.execute("INSERT INTO items (name) VALUES ('nobody''s')")
    with backend.lock():
        backend.apply_one(counts)
    with psycopg.connect(url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT owner_id, sum(items)::int FROM item_counts GROUP BY owner_id"
        ).fetchall()
        assert rows == [(owner[0], 7)]
        connection.execute("INSERT INTO items (name, owner_id) VALUES ('one more', %s)", owner)
        total = connection.execute("SELECT sum(items)::int FROM item_counts").fetchone()
        assert total == (8,)
