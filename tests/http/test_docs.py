"""/docs works offline: every file it loads is served by the service, no script is inline, and
the quick start on / runs as written."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx

from tests.conftest import problem


class _Resources(HTMLParser):
    """The URLs a page loads (scripts, stylesheets, icons) and the bodies of its scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] = []
        self.links: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            self._in_script = True
            if values.get("src"):
                self.loaded.append(str(values["src"]))
        elif tag == "link" and values.get("href"):
            self.loaded.append(str(values["href"]))
        elif tag == "a" and values.get("href"):
            self.links.append(str(values["href"]))
        if any(name.startswith("on") for name, _ in attrs):
            self.inline_scripts.append(f"<{tag}> event handler")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts.append(data)


def resources(html: str) -> _Resources:
    parser = _Resources()
    parser.feed(html)
    return parser


async def test_docs_loads_only_files_the_service_serves(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    found = resources(page.text)
    assert "/openapi.json" in found.links  # the document stays reachable without JavaScript
    assert found.loaded, "the page loads Swagger UI"
    assert not [url for url in found.loaded if not url.startswith("/")], "nothing from a CDN"
    assert found.inline_scripts == []  # script-src 'self' would block them
    for url in found.loaded:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert asset.content, url
        assert "max-age" in asset.headers["cache-control"]
        again = await client.get(url, headers={"If-None-Match": asset.headers["etag"]})
        assert again.status_code == 304
    bundle = await client.get("/docs/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert b"SwaggerUIBundle" in bundle.content
    assert (await client.get("/docs/swagger-ui.css")).headers["content-type"].startswith("text/css")
    # The initializer points Swagger UI at this service's document, and at no validator.
    init = (await client.get("/docs/init.js")).text
    assert '"/openapi.json"' in init
    assert "validatorUrl: null" in init


async def test_docs_sends_the_content_security_policy_it_works_under(
    client: httpx.AsyncClient,
) -> None:
    policy = (await client.get("/docs")).headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "connect-src 'self'" in policy
    assert "unsafe-eval" not in policy


async def test_only_the_listed_docs_files_are_served(client: httpx.AsyncClient) -> None:
    for path in (
        "/docs/swagger-ui.js.map",
        "/docs/index.html",
        "/docs/LICENSE",
        "/docs/../pyproject.toml",
        "/docs/%2e%2e/pyproject.toml",
        "/docs/swagger-ui-bundle.js/",
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
        problem(response, 404)


async def test_the_quick_start_on_the_home_page_names_the_host(client: httpx.AsyncClient) -> None:
    page = (await client.get("/")).text
    block = re.search(r"<pre>(.*?)</pre>", page, re.DOTALL)
    assert block is not None
    commands = [line for line in block[1].splitlines() if line.lstrip().startswith("curl")]
    assert commands
    for command in commands:
        assert re.search(r"https?://[^/\s]+/api/v1/", command), command
    # A password with `+` or `&` survives only URL-encoded.
    assert "--data-urlencode 'password=" in block[1]
