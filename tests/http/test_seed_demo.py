"""`python -m api seed --items N`: realistic demo items loaded with COPY, searchable at once,
with a progress bar on a terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

import httpx
import psycopg

from api import demo
from tests import ROOT
from tests.conftest import TEST_SECRET_KEY, Account
from tests.http.test_full_flow import run_cli


async def test_seed_adds_items_of_the_benchmark_vocabulary_that_search_finds(
    database_url: str, client: httpx.AsyncClient, alice: Account
) -> None:
    code, out, err = await run_cli(
        database_url, "seed", "--items", "1200", "--owner", "Alice@Example.com", "--seed", "7"
    )
    assert code == 0, err
    assert "seeded 1,200 items" in out
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT name, tags, metadata, owner_id FROM items").fetchall()
    assert len(rows) == 1200
    assert {row[3] for row in rows} == {alice.id}
    for name, tags, metadata, _ in rows:
        assert name.split()[1] in demo.NOUNS
        assert 1 <= len(tags) <= 5
        assert set(tags) <= set(demo.TAGS)
        assert {"color", "size", "price"} <= set(metadata)
    # Data to try search on: a fuzzy name search and a tag page answer with seeded items.
    noun = rows[0][0].split()[1]
    found = await client.get(f"/api/v1/items?q={noun}", headers=alice.headers)
    assert found.status_code == 200
    assert found.json()
    tagged = await client.get(f"/api/v1/items?tags={rows[0][1][0]}", headers=alice.headers)
    assert tagged.json()
    # Seeding again adds other items (a fresh random seed), it never collides.
    code, _, err = await run_cli(database_url, "seed", "--items", "10")
    assert code == 0, err
    with psycopg.connect(database_url) as conn:
        count = conn.execute("SELECT count(*) FROM items").fetchone()
    assert count == (1210,)


async def test_seed_refuses_an_unknown_owner_and_changes_nothing(database_url: str) -> None:
    code, _, err = await run_cli(database_url, "seed", "--items", "5", "--owner", "no@example.com")
    assert code == 1
    assert "no user" in err
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (0,)


def test_seed_shows_a_progress_bar_on_a_terminal(database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": TEST_SECRET_KEY}
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "api", "seed", "--items", "12000"],
        cwd=ROOT,
        env=env,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    output = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if select.select([leader], [], [], 0.5)[0]:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        elif process.poll() is not None:
            break
    process.wait(timeout=10)
    os.close(leader)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text
    assert "100%" in text
    assert "12000/12000" in text
