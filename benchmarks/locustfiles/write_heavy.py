"""Write-heavy scenario: create, upsert (PUT), patch, bulk upsert of 1,000 items.

    locust -f benchmarks/locustfiles/write_heavy.py --headless -u 16 -r 16 -t 30s \
        --host http://127.0.0.1:18001
"""

from __future__ import annotations

import common
from locust import FastHttpUser, between, task


class WriteHeavyUser(FastHttpUser):
    wait_time = between(0, 0.01)

    @task(6)
    def create(self) -> None:
        common.create(self.client)

    @task(4)
    def upsert(self) -> None:
        common.upsert(self.client)

    @task(4)
    def patch(self) -> None:
        common.patch(self.client)

    @task(1)
    def bulk_upsert_1000(self) -> None:
        common.bulk_upsert_1000(self.client)
