"""The test suite, in tiers by what a test needs: `pytest -m unit` (or `pytest tests/unit`) runs
in seconds; conftest.py marks each test with the folder it is in."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIERS = {
    "unit": "nothing but Python",
    "http": "the app in this process, over ASGI, on the test database",
    "live": "the service in a subprocess (python -m api serve, uvicorn), over real sockets",
    "faults": "private PostgreSQL clusters and PgBouncer, started, broken and stopped by tests",
    "system": "databases of their own: migrations, the benchmark harness",
}
