"""What the benchmarks ask of a running server besides the load: an API key, one checked GET."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

from benchmarks.common import EMAIL, PASSWORD


def _post(url: str, data: bytes, headers: dict[str, str]) -> dict[str, Any]:
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310 (http://127.0.0.1)
        return json.loads(reply.read())


def api_key(base_url: str) -> str:
    """Log in and make an API key, through the service's endpoints, as a client would."""
    form = urllib.parse.urlencode(
        {"grant_type": "password", "username": EMAIL, "password": PASSWORD}
    ).encode()
    token = _post(
        f"{base_url}/api/v1/auth/token", form, {"Content-Type": "application/x-www-form-urlencoded"}
    )["access_token"]
    made = _post(
        f"{base_url}/api/v1/api-keys",
        b'{"name":"bench"}',
        {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    return str(made["key"])


def check(url: str, auth: tuple[str, str] | None, item_id: str) -> None:
    """One authenticated GET, so that a server answering only errors fails loudly and early."""
    request = urllib.request.Request(f"{url}/api/v1/items/{item_id}")  # noqa: S310
    if auth:
        request.add_header(*auth)
    with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310 (http://127.0.0.1)
        body = json.loads(reply.read())
    if body.get("id") != item_id:
        raise RuntimeError(f"{url} answered {body!r} for item {item_id}")
