"""Write-heavy scenario: create, upsert (PUT), patch, bulk upsert of 1,000 items.

    locust -f benchmarks/locustfiles/write_heavy.py --headless -u 16 -r 16 -t 30s \
        --host http://127.0.0.1:18001
"""

from __future__ import annotations

from common import HEADERS, some_batch, some_body, some_id, some_patch
from locust import FastHttpUser, between, task


class WriteHeavyUser(FastHttpUser):
    wait_time = between(0, 0.01)

    @task(6)
    def create(self) -> None:
        self.client.post("/api/v1/items", data=some_body(), headers=HEADERS, name="create")

    @task(4)
    def upsert(self) -> None:
        self.client.put(
            f"/api/v1/items/{some_id()}", data=some_body(), headers=HEADERS, name="upsert"
        )

    @task(4)
    def patch(self) -> None:
        self.client.patch(
            f"/api/v1/items/{some_id()}", data=some_patch(), headers=HEADERS, name="patch"
        )

    @task(1)
    def bulk_upsert_1000(self) -> None:
        self.client.post(
            "/api/v1/items/batch", data=some_batch(), headers=HEADERS, name="bulk_upsert_1000"
        )
