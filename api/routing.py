"""BlackSheep's Router, trying routes with parameters before the fixed paths they cannot match."""

from __future__ import annotations

from blacksheep.server.routing import FilterRoute, Route
from blacksheep.server.routing import Router as BlackSheepRouter


class Router(BlackSheepRouter):
    """BlackSheep tries a method's routes in order and takes the first that matches. Its sort puts
    every fixed path before every route with parameters, so that `/items/batch` wins over
    `/items/{id}`; GET /api/v1/items/{id} then failed eight fixed paths (a lower-cased copy and a
    regular expression each) before its own: 33,000 of the request's 176,000 Python-side
    instructions under callgrind, more than auth and the access log together. After BlackSheep's
    sort this one moves such routes ahead of the fixed paths, which changes no request's route.
    """

    __slots__ = ()

    def sort_routes(self) -> None:
        # BlackSheep leaves sort_routes unannotated.
        super().sort_routes()  # type: ignore[no-untyped-call]
        for method, routes in self.routes.items():
            self.routes[method] = parameters_first(routes)


def parameters_first(routes: list[Route]) -> list[Route]:
    """The leading routes with parameters (in BlackSheep's order, up to the first catch-all or
    the first that matches a fixed path of the list), then every other route as it was."""
    if any(isinstance(route, FilterRoute) for route in routes):
        return routes  # filters (headers, hosts) decide too: leave their order alone
    fixed = [route.pattern for route in routes if not route.has_params]
    early: list[Route] = []
    for route in routes:
        if not route.has_params:
            continue
        if b".*" in route.rx.pattern or any(route.rx.match(path) for path in fixed):
            break
        early.append(route)
    moved = {id(route) for route in early}
    return early + [route for route in routes if id(route) not in moved]
