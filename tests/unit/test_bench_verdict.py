"""How the benchmark runner judges a server's runs on an endpoint (benchmarks.measure.verdict):
by the errors wrk counted, not by the answers alone."""

from __future__ import annotations

from typing import Any

from benchmarks.measure import runs_failed, verdict


def run(ok: int, **errors: int) -> dict[str, Any]:
    detail = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0, **errors}
    return {
        "ok_requests": ok,
        "errors": sum(detail.values()),
        "error_detail": detail,
        "seconds": 1.0,
    }


def test_a_server_that_answers_is_fine_whatever_else_failed() -> None:
    assert verdict("peer", "bulk_upsert_1000", [run(0), run(3, status=2)]) is None


def test_only_errors_is_a_failure_naming_them() -> None:
    runs = [run(0, status=4), run(0, timeout=1)]
    assert runs_failed(runs)
    problem = verdict("peer", "bulk_upsert_1000", runs)
    assert problem is not None
    assert problem.startswith("peer answered only errors on bulk_upsert_1000 in 2 s")
    assert "'status': 4" in problem
    assert "'timeout': 1" in problem


def test_no_answer_and_no_error_is_not_only_errors() -> None:
    """The smoke run's 1-second rounds ended before the peer's first 1,000-item upsert did."""
    runs = [run(0), run(0), run(0)]
    assert not runs_failed(runs)
    problem = verdict("fastapi-sqlalchemy", "bulk_upsert_1000", runs)
    assert problem == (
        "fastapi-sqlalchemy completed no bulk_upsert_1000 request in 3 s and none failed:"
        " each takes longer than the runs were long"
    )
