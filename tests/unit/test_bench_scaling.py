"""How `python -m benchmarks scaling` and `run` size what they start: the worker steps, the pools
that fit in PostgreSQL's connections, and PgBouncer's configuration."""

from __future__ import annotations

import configparser
from pathlib import Path

from benchmarks import database, pgbouncer, runner
from benchmarks.scaling import direct_pool, plan, worker_steps


def test_workers_double_up_to_the_machines_cpus_whatever_they_are() -> None:
    assert worker_steps(1) == [1]
    assert worker_steps(2) == [1, 2]
    assert worker_steps(6) == [1, 2, 4, 6]
    assert worker_steps(8) == [1, 2, 4, 8]
    assert worker_steps(96) == [1, 2, 4, 8, 16, 32, 64, 96]


def test_direct_pools_shrink_to_fit_postgresqls_connections() -> None:
    assert direct_pool(wanted=10, workers=4, room=95) == 10
    assert direct_pool(wanted=10, workers=16, room=95) == 5
    assert direct_pool(wanted=10, workers=128, room=95) == 0


def test_pgbouncer_keeps_its_connections_whatever_the_workers() -> None:
    spare = database.SPARE_CONNECTIONS
    step = plan(workers=2, room=100, pool_size=10, bouncer_connections=10)
    assert step.pool == {"direct": 10, "pgbouncer": 10}
    assert step.backends == {"direct": 20, "pgbouncer": 10}
    assert not step.skipped
    many = plan(workers=32, room=100, pool_size=10, bouncer_connections=10)
    assert many.pool["direct"] == (100 - 10 - spare) // 32
    assert many.backends["pgbouncer"] == 10
    too_many = plan(workers=128, room=100, pool_size=10, bouncer_connections=10)
    assert list(too_many.pool) == ["pgbouncer"]
    assert too_many.skipped["direct"].startswith("128 workers need a connection each")
    alone = plan(workers=2, room=100, pool_size=10, bouncer_connections=0)
    assert list(alone.pool) == ["direct"]


def test_run_refuses_more_connections_than_postgresql_has() -> None:
    # Three servers of four workers with pools of 10, and pgbench's 32 clients.
    assert runner.connections_needed(3, 4, 10, 32) == 120 + 32 + database.SPARE_CONNECTIONS
    assert runner.connections_needed(1, 1, 10, 0) == 10 + database.SPARE_CONNECTIONS


def test_pgbouncer_config_is_transaction_mode_on_loopback(tmp_path: Path) -> None:
    text = pgbouncer.config_text(
        database="scaling_x",
        host="127.0.0.1",
        port=5432,
        user="postgres",
        listen_port=6543,
        server_connections=8,
        max_clients=340,
        folder=tmp_path,
    )
    ini = configparser.ConfigParser()
    ini.read_string(text)
    assert ini["databases"]["scaling_x"] == (
        "host=127.0.0.1 port=5432 dbname=scaling_x user=postgres"
    )
    bouncer = ini["pgbouncer"]
    assert bouncer["pool_mode"] == "transaction"
    assert bouncer["listen_addr"] == "127.0.0.1"
    assert bouncer["listen_port"] == "6543"
    assert bouncer["unix_socket_dir"] == ""
    assert bouncer["default_pool_size"] == "8"
    assert bouncer["max_client_conn"] == "340"
    assert bouncer["auth_file"] == str(tmp_path / "users.txt")
    assert bouncer["logfile"] == str(tmp_path / "pgbouncer.log")
