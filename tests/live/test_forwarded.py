"""The client address behind proxies: X-Forwarded-For is believed only from FORWARDED_ALLOW_IPS
(no one by default), and no forwarded value, however long or odd, turns a login into a 500 or
escapes the count. Against live servers, over real connections."""

from __future__ import annotations

import random
import string
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import PASSWORD, Account
from tests.servers import live_server

MAX_FAILURES = 5
HUGE = "".join(random.choices(string.ascii_letters + string.digits, k=4000))


@pytest.fixture(scope="module")
def default_port(database_url: str) -> Iterator[int]:
    with live_server(database_url, LOGIN_MAX_FAILURES=str(MAX_FAILURES)) as port:
        yield port


@pytest.fixture(scope="module")
def proxied_port(database_url: str) -> Iterator[int]:
    with live_server(
        database_url, LOGIN_MAX_FAILURES=str(MAX_FAILURES), FORWARDED_ALLOW_IPS="127.0.0.1"
    ) as port:
        yield port


def login(port: int, email: str, password: str, forwarded: str | None = None) -> httpx.Response:
    headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}
    return httpx.post(
        f"http://127.0.0.1:{port}/api/v1/auth/token",
        data={"grant_type": "password", "username": email, "password": password},
        headers=headers,
        timeout=10,
    )


def test_by_default_x_forwarded_for_is_ignored(default_port: int, alice: Account) -> None:
    """Finding: a 4,000-character X-Forwarded-For, trusted from loopback by default, made every
    failed login a 500 and nothing was counted."""
    for _ in range(MAX_FAILURES):
        answer = login(default_port, alice.email, "wrong password", HUGE)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == "invalid_grant"  # verified, counted
    assert login(default_port, alice.email, PASSWORD, HUGE).status_code == 429


def test_a_trusted_proxys_garbage_address_is_400_and_counted(
    proxied_port: int, alice: Account
) -> None:
    for _ in range(MAX_FAILURES):
        answer = login(proxied_port, alice.email, "wrong password", HUGE)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == "invalid_request"
    # The account's counter is full: the right password from a real address is refused too.
    assert login(proxied_port, alice.email, PASSWORD, "198.51.100.4").status_code == 429


def test_a_trusted_proxys_addresses_are_counted_apart(proxied_port: int, bob: Account) -> None:
    """Behind a trusted proxy each client has its own address: one client's failures on other
    accounts leave another client's login alone."""
    for n in range(MAX_FAILURES * 2):
        login(proxied_port, f"guess{n}@example.com", "wrong password", "198.51.100.5")
    assert login(proxied_port, bob.email, PASSWORD, "198.51.100.6").status_code == 200
