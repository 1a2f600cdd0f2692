"""Mixed scenario: mostly reads with some writes, as a typical catalogue sees.

    locust -f benchmarks/locustfiles/mixed.py --headless -u 32 -r 32 -t 30s \
        --host http://127.0.0.1:18001
"""

from __future__ import annotations

import common
from locust import FastHttpUser, between, task


class MixedUser(FastHttpUser):
    wait_time = between(0, 0.01)

    @task(60)
    def get_by_id(self) -> None:
        common.get_by_id(self.client)

    @task(15)
    def list_by_tag(self) -> None:
        common.list_by_tag(self.client)

    @task(10)
    def fuzzy_search(self) -> None:
        common.fuzzy_search(self.client)

    @task(10)
    def create(self) -> None:
        common.create(self.client)

    @task(5)
    def patch(self) -> None:
        common.patch(self.client)
