"""Mixed scenario: mostly reads with some writes, as a typical catalogue sees.

    locust -f benchmarks/locustfiles/mixed.py --headless -u 32 -r 32 -t 30s \
        --host http://127.0.0.1:18001
"""

from __future__ import annotations

import random

from common import HEADERS, QUERIES, TAGS, some_body, some_id, some_patch
from locust import FastHttpUser, between, task


class MixedUser(FastHttpUser):
    wait_time = between(0, 0.01)

    @task(60)
    def get_by_id(self) -> None:
        self.client.get(f"/api/v1/items/{some_id()}", headers=HEADERS, name="get_by_id")

    @task(15)
    def list_by_tag(self) -> None:
        self.client.get(
            "/api/v1/items",
            params={"tags": random.choice(TAGS), "limit": 50},
            headers=HEADERS,
            name="list_by_tag",
        )

    @task(10)
    def fuzzy_search(self) -> None:
        self.client.get(
            "/api/v1/items",
            params={"q": random.choice(QUERIES), "limit": 20},
            headers=HEADERS,
            name="fuzzy_search",
        )

    @task(10)
    def create(self) -> None:
        self.client.post("/api/v1/items", data=some_body(), headers=HEADERS, name="create")

    @task(5)
    def patch(self) -> None:
        self.client.patch(
            f"/api/v1/items/{some_id()}", data=some_patch(), headers=HEADERS, name="patch"
        )
