"""/ and /docs in a real headless Chromium (Debian's `chromium`, driven by Playwright; no browser
download): the pages render offline, Swagger UI lists the operations, and "Try it out" on
GET /api/v1/items with a token from the Authorize dialog answers 200.

`scripts/dev.sh test` installs chromium; where it is missing this test is skipped with a reason
(a developer's machine without it), never in CI, which runs dev.sh.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.conftest import PASSWORD, Account
from tests.servers import free_port, service_env, start_server, stop_server

CHROMIUM = "/usr/bin/chromium"
# Flags that keep Chromium from reaching out (updates, sync, QUIC probes) and that work as root.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
    reason="needs Debian's chromium (scripts/dev.sh test installs it)",
)


@pytest.fixture
def base_url(database_url: str) -> Iterator[str]:
    """`python -m api serve` on a free port of this run."""
    port = free_port()
    env = service_env(database_url, LOG_LEVEL="warning")
    process = start_server(env, port, "--no-migrate")
    url = f"http://127.0.0.1:{port}"
    try:
        yield url
    finally:
        stop_server(process)


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Chromium with a new, empty profile of its own, removed afterwards."""
    from playwright.async_api import async_playwright

    profile = tempfile.mkdtemp(prefix="items-browser-")
    try:
        async with async_playwright() as playwright:
            context = await playwright.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
            )
            try:
                yield context
            finally:
                await context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


async def _offline_guard(context: Any, base_url: str) -> list[str]:
    """Refuse every request that leaves this run's server (as if offline); return their URLs."""
    refused: list[str] = []

    async def route(route: Any) -> None:
        if route.request.url.startswith(base_url):
            await route.continue_()
        else:
            refused.append(route.request.url)
            await route.abort()

    await context.route("**/*", route)
    return refused


async def test_home_and_docs_render_and_try_it_out_answers_200(
    base_url: str, browser: Any, alice: Account
) -> None:
    refused = await _offline_guard(browser, base_url)
    page = await browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    await page.goto(f"{base_url}/")
    assert await page.locator("h1").inner_text() == "Items API"
    await page.get_by_role("link", name="Interactive API documentation").click()
    await page.wait_for_url(f"{base_url}/docs")

    # Swagger UI rendered the document: its title and every operation of the API.
    await page.wait_for_selector(".opblock", timeout=15_000)
    assert "Items API" in await page.locator(".info .title").inner_text()
    paths = set(
        await page.locator(".opblock-summary-path").evaluate_all(
            "es => es.map(e => e.dataset.path)"
        )
    )
    assert {"/api/v1/items", "/api/v1/items/{id}", "/api/v1/auth/token", "/healthz"} <= paths

    # Authorize with the password flow: Swagger UI fetches a token from /api/v1/auth/token.
    await page.locator("button.authorize").first.click()
    dialog = page.locator(".modal-ux")
    await dialog.locator("#oauth_username").fill(alice.email)
    await dialog.locator("#oauth_password").fill(PASSWORD)
    await dialog.locator("button.authorize").first.click()
    await dialog.get_by_text("Authorized", exact=True).wait_for(timeout=10_000)
    await dialog.locator("button.btn-done").first.click()

    operation = page.locator("#operations-items-listItems")
    await operation.locator(".opblock-summary").click()
    await operation.locator("button.try-out__btn").click()
    await operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table tr.response .response-col_status").first
    await status.wait_for(timeout=10_000)
    assert (await status.inner_text()).strip() == "200"
    assert "Bearer " in await operation.locator(".curl-command").inner_text()

    assert refused == []
    # No Content-Security-Policy violation, no script error.
    assert problems == []
