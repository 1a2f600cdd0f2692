"""Read-heavy scenario: get by id, list by tag, fuzzy search, paging through cursors.

    locust -f benchmarks/locustfiles/read_heavy.py --headless -u 32 -r 32 -t 30s \
        --host http://127.0.0.1:18001
"""

from __future__ import annotations

import common
from locust import FastHttpUser, between, task


class ReadHeavyUser(FastHttpUser):
    wait_time = between(0, 0.01)

    @task(10)
    def get_by_id(self) -> None:
        common.get_by_id(self.client)

    @task(4)
    def list_by_tag(self) -> None:
        common.list_by_tag(self.client)

    @task(3)
    def fuzzy_search(self) -> None:
        common.fuzzy_search(self.client)

    @task(2)
    def paging(self) -> None:
        common.paging(self.client)
