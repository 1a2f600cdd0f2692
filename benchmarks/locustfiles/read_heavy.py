"""Read-heavy scenario: get by id, list by tag, fuzzy search, paging through cursors.

    locust -f benchmarks/locustfiles/read_heavy.py --headless -u 32 -r 32 -t 30s \
        --host http://127.0.0.1:18001
"""

from __future__ import annotations

import random
import re

from common import HEADERS, QUERIES, TAGS, some_id
from locust import FastHttpUser, between, task

_NEXT = re.compile(r"<([^>]+)>")


class ReadHeavyUser(FastHttpUser):
    wait_time = between(0, 0.01)

    @task(10)
    def get_by_id(self) -> None:
        self.client.get(f"/api/v1/items/{some_id()}", headers=HEADERS, name="get_by_id")

    @task(4)
    def list_by_tag(self) -> None:
        self.client.get(
            "/api/v1/items",
            params={"tags": random.choice(TAGS), "limit": 50},
            headers=HEADERS,
            name="list_by_tag",
        )

    @task(3)
    def fuzzy_search(self) -> None:
        self.client.get(
            "/api/v1/items",
            params={"q": random.choice(QUERIES), "limit": 20},
            headers=HEADERS,
            name="fuzzy_search",
        )

    @task(2)
    def paging(self) -> None:
        url = "/api/v1/items?limit=50"
        for _ in range(5):
            response = self.client.get(url, headers=HEADERS, name="paging")
            match = _NEXT.match(response.headers.get("link") or "")
            if match is None:
                break
            url = match[1]
