"""The open-loop generator's schedule and arithmetic (benchmarks/openloop.py), and how the
overload command merges its rounds: everything but the sockets."""

from __future__ import annotations

from array import array
from typing import Any

import pytest

from benchmarks import openloop
from benchmarks.overload import open_loop_summary


def test_requests_are_due_evenly_by_the_clock() -> None:
    due = openloop.due_times(rate=4, seconds=2.5)
    assert due == [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25]
    assert len(openloop.due_times(rate=1000, seconds=3)) == 3000
    assert openloop.due_times(rate=0, seconds=3) == []


def test_rates_are_multiples_of_the_measured_capacity() -> None:
    assert openloop.rates(1234.5, [1, 2, 4, 8]) == [1234.5, 2469.0, 4938.0, 9876.0]


def test_percentiles_are_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert openloop.percentile(values, 50) == 50.0
    assert openloop.percentile(values, 99) == 99.0
    assert openloop.percentile(values, 100) == 100.0
    assert openloop.percentile([7.0], 99) == 7.0
    assert openloop.percentile([], 99) == 0.0


def tally(answers: list[tuple[int, float]], due: int, **counts: float) -> openloop.Tally:
    made = openloop.Tally(
        statuses=array("H", [status for status, _ in answers]),
        latencies_s=array("d", [latency for _, latency in answers]),
        lags_s=array("d", [0.001] * due),
        due=due,
    )
    for name, value in counts.items():
        setattr(made, name, value)
    return made


def test_goodput_counts_2xx_within_the_budget_from_when_they_were_due() -> None:
    answers = [
        (200, 0.010),
        (200, 0.020),
        (201, 4.9),
        (200, 5.5),  # answered, but past the 5 s budget: not goodput
        (503, 0.001),
        (503, 0.002),
        (429, 0.003),
        (0, 2.0),  # the connection closed before its answer
    ]
    summary = openloop.summary(
        tally(
            answers,
            due=10,
            sent_in_time=10,
            answered_in_time=7,
            unanswered=2,
            cpu_s=0.5,
            window_s=2.0,
        ),
        rate=5,
        seconds=2,
        budget_ms=5000,
    )
    assert summary["goodput"] == 1.5  # three good answers in 2 s
    assert summary["ok"] == 4
    assert summary["late"] == 1
    assert summary["statuses"] == {
        "200": 3,
        "201": 1,
        "429": 1,
        "503": 2,
        "lost": 1,
    }
    assert summary["share_503"] == round(2 / 7, 4)  # of the answers: the lost one is none
    assert summary["unanswered"] == 2
    assert summary["sent_rps"] == 5.0
    assert summary["answered_rps"] == 3.5
    # Percentiles of 2xx only: the fast 503s do not make the service look fast.
    assert summary["p50_ms"] == 20.0
    assert summary["p99_ms"] == 5500.0
    assert summary["max_ms"] == 5500.0  # the slowest of any answer
    assert summary["generator_cpu"] == 0.25


def test_a_run_with_no_answer_reports_zeros() -> None:
    summary = openloop.summary(tally([], due=5, unanswered=5), rate=5, seconds=1, budget_ms=5000)
    assert summary["goodput"] == 0.0
    assert summary["p99_ms"] == 0.0
    assert summary["share_503"] == 0.0
    assert summary["unanswered"] == 5


def test_the_generator_targets_this_machine_only() -> None:
    port, made = openloop.requests_for(
        "http://127.0.0.1:8123", ["/healthz", "/api/v1/items/1"], [("X-API-Key", "k")]
    )
    assert port == 8123
    assert made[0] == b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:8123\r\nX-API-Key: k\r\n\r\n"
    assert len(made) == 2
    for elsewhere in ("http://192.0.2.1:80", "http://example.com", "https://127.0.0.1:443"):
        with pytest.raises(ValueError, match=r"127\.0\.0\.1 only"):
            openloop.requests_for(elsewhere, ["/"])


def run(factor: float, goodput: float, statuses: dict[str, int], **other: float) -> dict[str, Any]:
    return {
        "factor": factor,
        "rate": 100 * factor,
        "sent_rps": 100 * factor,
        "answered_rps": 100.0,
        "goodput": goodput,
        "p50_ms": other.get("p50_ms", 1.0),
        "p99_ms": other.get("p99_ms", 10.0),
        "max_ms": other.get("max_ms", 20.0),
        "lag_p99_ms": 1.0,
        "generator_cpu": 0.2,
        "connections": int(other.get("connections", 16)),
        "statuses": statuses,
        "unanswered": int(other.get("unanswered", 0)),
    }


def test_rounds_merge_per_rate_medians_worst_and_totals() -> None:
    rounds = [
        [run(1, 90, {"200": 90}), run(2, 80, {"200": 80, "503": 120}, max_ms=900)],
        [run(1, 100, {"200": 100}), run(2, 70, {"200": 70, "503": 130}, unanswered=3)],
        [run(1, 95, {"200": 95}), run(2, 60, {"200": 60, "503": 140, "500": 1})],
    ]
    merged = open_loop_summary(rounds)
    assert [m["factor"] for m in merged] == [1, 2]
    assert merged[0]["goodput"] == 95
    assert merged[1]["goodput"] == 70
    assert merged[1]["statuses"] == {"200": 210, "500": 1, "503": 390}
    assert merged[1]["share_503"] == round(390 / 601, 4)
    assert merged[1]["max_ms"] == 900
    assert merged[1]["unanswered"] == 3
    assert open_loop_summary([]) == []
