"""The /docs page: Swagger UI served by the service itself, from the files of a pinned package.

No CDN and no inline script, so the page works offline and under a Content-Security-Policy of
`script-src 'self'` (api.handlers.static.CONTENT_SECURITY_POLICY, sent with every HTML page).
Swagger UI's files come from the `swagger-ui-py` wheel (pinned in pyproject.toml), read once at
start-up from a fixed list: no part of a request's path names a file.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

_JAVASCRIPT = b"text/javascript; charset=utf-8"
# URL path -> (file in the package's static folder, media type). The only files served.
SWAGGER_UI_FILES: dict[str, tuple[str, bytes]] = {
    "/docs/swagger-ui.css": ("swagger-ui.css", b"text/css; charset=utf-8"),
    "/docs/swagger-ui-bundle.js": ("swagger-ui-bundle.js", _JAVASCRIPT),
    "/docs/favicon-32x32.png": ("favicon-32x32.png", b"image/png"),
}
INIT_SCRIPT_PATH = "/docs/init.js"

# Loaded as a file of its own, not inline, so that `script-src 'self'` allows it. The validator
# badge is off: it would send the document to a third party.
INIT_SCRIPT = b"""window.addEventListener("DOMContentLoaded", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#docs",
    deepLinking: true,
    validatorUrl: null,
    tryItOutEnabled: false
  });
});
"""

PAGE = b"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Items API docs</title>
<link rel="icon" href="/docs/favicon-32x32.png">
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<p style="font: 14px system-ui, sans-serif; margin: 0.75rem 1.25rem">
<a href="/">Home</a> &middot; the OpenAPI document: <a href="/openapi.json">/openapi.json</a>
</p>
<noscript><p>This page needs JavaScript; the API is described in
<a href="/openapi.json">/openapi.json</a>.</p></noscript>
<div id="docs"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
"""


class DocsAssetsMissing(RuntimeError):
    """The swagger-ui-py package (a dependency) is not installed or lacks a file."""


def swagger_ui_dir() -> Path:
    """The folder of Swagger UI's files inside the installed swagger-ui-py package.

    Found without importing the package (whose __init__ pulls in jinja2 for its own handlers).
    """
    spec = importlib.util.find_spec("swagger_ui")
    locations = spec.submodule_search_locations if spec is not None else None
    if not locations:
        raise DocsAssetsMissing("swagger-ui-py is not installed: pip install -e .")
    return Path(next(iter(locations))) / "static"


def load_assets() -> dict[str, tuple[bytes, bytes]]:
    """URL path -> (body, media type) of every file the docs page loads besides itself."""
    folder = swagger_ui_dir()
    assets: dict[str, tuple[bytes, bytes]] = {INIT_SCRIPT_PATH: (INIT_SCRIPT, _JAVASCRIPT)}
    for path, (name, media_type) in SWAGGER_UI_FILES.items():
        file = folder / name
        if not file.is_file():
            raise DocsAssetsMissing(f"swagger-ui-py lacks {name} (looked in {folder})")
        assets[path] = (file.read_bytes(), media_type)
    return assets
