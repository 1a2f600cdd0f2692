"""`python -m benchmarks run --replicas N` without a server: where reads went, from /metrics
deltas; the report's replica section; the replica variant of the items API; the options it
refuses."""

from __future__ import annotations

import pytest

from benchmarks import cli, replicas, report, servers

PAGE = """# HELP db_replica_reads_total Reads that a replica may serve, by where they ran.
# TYPE db_replica_reads_total counter
db_replica_reads_total{route="replica"} 120.0
db_replica_reads_total{route="primary_token"} 30.0
db_replica_reads_total{route="primary_fallback"} 0.0
# HELP db_replica_retries_total Reads that failed on a replica and ran elsewhere.
# TYPE db_replica_retries_total counter
db_replica_retries_total 2.0
db_replica_lag_seconds{replica="127.0.0.1:5433"} 0.004
"""


def test_reads_by_route_come_from_the_metrics_page() -> None:
    assert replicas.read_counts(PAGE) == {
        "replica": 120.0,
        "primary_token": 30.0,
        "primary_fallback": 0.0,
        "retries": 2.0,
    }
    # Before the first read, the families have no sample yet: none is counted.
    assert set(replicas.read_counts("# nothing yet\n").values()) == {0.0}


def test_shares_are_of_the_reads_between_two_scrapes() -> None:
    before = replicas.read_counts(PAGE)
    after = {"replica": 420.0, "primary_token": 130.0, "primary_fallback": 0.0, "retries": 3.0}
    routed = replicas.routing(before, after)
    assert routed["reads"] == 400
    assert (routed["replica"], routed["primary_token"], routed["retries"]) == (300, 100, 1)
    assert routed["replica_share"] == 0.75
    assert routed["primary_token_share"] == 0.25
    assert routed["primary_fallback_share"] == 0.0
    nothing = replicas.routing(before, before)
    assert nothing["reads"] == 0
    assert nothing["replica_share"] is None
    assert replicas.summary(nothing) == "no read that a replica may serve"
    assert "primary_token 100 (25.0%)" in replicas.summary(routed)


def test_rounds_combine_into_shares_of_their_sums() -> None:
    zero = dict.fromkeys(("replica", "primary_token", "primary_fallback", "retries"), 0.0)
    one = replicas.routing(zero, {**zero, "replica": 90.0, "primary_token": 10.0})
    two = replicas.routing(zero, {**zero, "replica": 10.0, "primary_fallback": 90.0})
    both = replicas.combine([one, two])
    assert both["reads"] == 200
    assert both["replica_share"] == 0.5
    assert both["primary_fallback_share"] == 0.45


def _spec_args(**more: object) -> dict[str, object]:
    return dict(
        dsn="postgresql://postgres@127.0.0.1:1/db",
        secret_key="k" * 32,
        owner_id="owner",
        api_key="key",
        workers=2,
        pool_size=10,
        access_log=True,
        ports=(11, 12, 13, 14),
        **more,
    )


def test_the_replica_variant_is_the_items_api_with_replica_urls() -> None:
    urls = ["postgresql://postgres@127.0.0.1:2/db", "postgresql://postgres@127.0.0.1:3/db"]
    made = servers.specs(**_spec_args(replica_urls=urls))  # type: ignore[arg-type]
    plain, routed = made["items-api"], made[replicas.REPLICA_SERVER]
    assert routed.port == 14
    assert routed.command[routed.command.index("--port") + 1] == "14"
    assert routed.command[routed.command.index("--workers") + 1] == "2"
    assert routed.env == {**plain.env, "DATABASE_REPLICA_URLS": ",".join(urls)}
    assert routed.auth == plain.auth
    # Without replicas (the default), the run's servers are exactly those of before.
    assert replicas.REPLICA_SERVER not in servers.specs(**_spec_args())  # type: ignore[arg-type]
    assert "DATABASE_REPLICA_URLS" not in plain.env


def test_the_report_compares_the_variants_and_shows_the_shares() -> None:
    routed = replicas.routing(
        dict.fromkeys(("replica", "primary_token", "primary_fallback", "retries"), 0.0),
        {"replica": 900.0, "primary_token": 100.0, "primary_fallback": 0.0, "retries": 0.0},
    )
    document = {
        "settings": {"replicas": 1},
        "results": [
            {"endpoint": "mixed", "server": "items-api", "rps": 1000.0},
            {
                "endpoint": "mixed",
                "server": replicas.REPLICA_SERVER,
                "rps": 950.0,
                "replica_routing": routed,
            },
        ],
    }
    lines = report.replica_section(document)
    assert "| mixed | 0.950x | 1,000 | 90.0% (900) | 10.0% (100) | 0.0% (0) | 0 |" in lines
    assert report.replica_section({"settings": {}, "results": []}) == []


@pytest.mark.parametrize(
    "options",
    [
        ["--replicas", "-1"],
        ["--replicas", "1", "--servers", "pgbench"],
        ["--replicas", "1", "--db-name", "kept"],
    ],
)
def test_replica_runs_refuse_what_they_cannot_do(
    options: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["run", *options]) == 2
    assert "--replicas" in capsys.readouterr().err
