"""The router's order: routes with parameters first where that changes no request's route."""

from __future__ import annotations

from typing import Any

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
    # /items/{id} matches /items/batch (in any case, with or without a trailing slash), so it
    # stays; /users/{id} stays behind it, as BlackSheep ordered the two.
    assert _patterns(parameters_first(routes)) == [b"/items/batch", b"/items/{id}", b"/users/{id}"]


def test_every_fixed_path_of_the_app_still_reaches_its_own_route(app: Any) -> None:
    router = app.router
    for method, routes in router.routes.items():
        for route in routes:
            if route.has_params:
                continue
            for path in (route.pattern, route.pattern.upper(), route.pattern.rstrip(b"/") + b"/"):
                match = router.get_match_by_method_and_path(method, path)
                assert match is not None, (method, path)
                assert match.pattern == route.pattern, (method, path)
    first = router.routes[b"GET"][0]
    assert first.pattern == b"/api/v1/items/{id}"
