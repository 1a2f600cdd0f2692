"""The router's order: routes with parameters first where that changes no request's route."""

from __future__ import annotations

from typing import Any

import pytest
from blacksheep.server.routing import Route

from api.routing import parameters_first


def _handler() -> None:
    pass


def _patterns(routes: list[Route]) -> list[bytes]:
    return [route.pattern for route in routes]


def test_a_route_with_parameters_moves_ahead_of_fixed_paths_it_cannot_match() -> None:
    routes = [Route(p, _handler) for p in ("/healthz", "/items", "/items/{id}", "/static/*")]
    assert _patterns(parameters_first(routes)) == [
        b"/items/{id}",
        b"/healthz",
        b"/items",
        b"/static/*",
    ]


def test_a_route_with_parameters_stays_behind_a_fixed_path_it_would_match() -> None:
    routes = [Route(p, _handler) for p in ("/items/batch", "/items/{id}", "/users/{id}")]
    # /items/{id} matches /items/batch, so it stays; /users/{id} stays behind it, as
    # BlackSheep ordered the two.
    assert _patterns(parameters_first(routes)) == [b"/items/batch", b"/items/{id}", b"/users/{id}"]


def test_every_fixed_path_of_the_app_still_reaches_its_own_route(app: Any) -> None:
    router = app.router
    for method, routes in router.routes.items():
        for route in routes:
            if route.has_params:
                continue
            match = router.get_match_by_method_and_path(method, route.pattern)
            assert match is not None, (method, route.pattern)
            assert match.pattern == route.pattern, (method, route.pattern)
    first = router.routes[b"GET"][0]
    assert first.pattern == b"/api/v1/items/{id}"


@pytest.mark.parametrize(
    "path",
    [
        "/HEALTHZ",
        "/Healthz",
        "/healthz/",
        "/openapi.JSON",
        "/API/v1/items",
        "/api/v1/items/",
        "/api/v1/items/batch/",
        "/api/v1/items/00000000-0000-4000-8000-000000000000/",
        "/staticapp.js",
        "/static",
    ],
)
async def test_a_path_matches_only_as_written(client: Any, path: str) -> None:
    """A proxy that blocks /healthz or /api/v1/items must not be bypassed by another spelling
    of the path (RFC 3986 section 6.2.2.1: paths are case-sensitive)."""
    response = await client.get(path)
    assert response.status_code == 404, (path, response.status_code)
    assert response.headers["content-type"] == "application/problem+json"
