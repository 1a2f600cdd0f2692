"""BlackSheep's Router with HTTP's method rules (RFC 9110 section 9): HEAD for every GET route,
OPTIONS and 405 answered with Allow, paths matched exactly, and routes with parameters tried first
where no fixed path could be theirs."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, AnyStr

from blacksheep import Request, Response, StreamedContent
from blacksheep.server.routing import FilterRoute, Route, RouteFilter, RouteMatch
from blacksheep.server.routing import Router as BlackSheepRouter

from api.problems import ProblemError

# The order Allow lists methods in; a method of no route here is never allowed.
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class ExactRoute(Route):
    """A route that matches its path byte for byte. BlackSheep's matches in any case and with an
    optional trailing slash, so /METRICS and /metrics/ reached /metrics past a proxy rule that
    blocks /metrics; a path is case-sensitive (RFC 3986 section 6.2.2.1) and /metrics/ is another
    resource. A `/*` tail starts after the slash: /static/* no longer matches /staticapp.js.
    """

    __slots__ = ()

    def _get_regex_for_pattern(self, pattern: bytes) -> tuple[re.Pattern[bytes], list[bytes]]:
        loose, names = super()._get_regex_for_pattern(pattern)
        source = loose.pattern.replace(b"/?(?P<tail>", b"/(?P<tail>")
        if source.endswith(b"/?$"):
            source = source[: -len(b"/?$")] + b"$"
        return re.compile(source), names

    def match_by_path(self, path: bytes) -> RouteMatch | None:
        # param_names and _rx, not the has_params and rx properties: a Python call each
        if not self.param_names:
            return RouteMatch(self, {}) if path == self.pattern else None
        match = self._rx.match(path)
        return None if match is None else RouteMatch(self, match.groupdict())


class Router(BlackSheepRouter):
    """BlackSheep tries a method's routes in order and takes the first that matches. Its sort puts
    every fixed path before every route with parameters, so that `/items/batch` wins over
    `/items/{id}`; GET /api/v1/items/{id} then failed every fixed path (a lower-cased copy and a
    regular expression each) before its own, which cost more than auth and the access log
    together (benchmarks/README.md, "Why the code is as it is"). After BlackSheep's sort this one
    moves such routes ahead of the fixed paths, which changes no request's route.

    A request's route is found without BlackSheep's cache of 1,200 matches (an lru_cache keyed by
    method and path): an item's path is seldom among the last 1,200 asked, and a miss of that
    cache cost about as much again as the match itself (benchmarks/README.md, "Why the code is
    as it is"). A fixed path is one dict lookup instead; routes with parameters are tried in order.
    """

    __slots__ = ("_fixed",)

    def __init__(self) -> None:
        super().__init__()
        # (method, path) -> the match of a fixed path, kept once found: as many entries as
        # there are fixed paths, whatever clients send.
        self._fixed: dict[tuple[bytes, bytes], RouteMatch] = {}

    def create_route(
        self, pattern: AnyStr, handler: Any, filters: list[RouteFilter] | None = None
    ) -> Route:
        route = super().create_route(pattern, handler, filters)
        if isinstance(route, FilterRoute):
            return route
        return ExactRoute(route.pattern, route.handler)

    def sort_routes(self) -> None:
        # BlackSheep leaves sort_routes unannotated.
        super().sort_routes()  # type: ignore[no-untyped-call]
        exclude_fixed_paths(self)
        for method, routes in self.routes.items():
            self.routes[method] = parameters_first(routes)
        self._fixed = {}

    def get_match(self, request: Request) -> RouteMatch | None:
        method = request.method.encode()
        path: bytes = request._path  # type: ignore[attr-defined]  # what BlackSheep matches
        match = self._fixed.get((method, path))
        if match is not None:
            return match
        for route in self.routes.get(method, ()):
            match = route.match_by_path(path)
            if match is not None:
                if isinstance(route, ExactRoute) and not route.param_names:  # path == pattern
                    self._fixed[method, path] = match
                return match
        return None if self.fallback is None else RouteMatch(self.fallback, {})

    def allowed_methods(self, path: bytes) -> list[str]:
        """The methods some route answers on `path`, in METHODS order; [] for an unknown path.

        OPTIONS is allowed wherever another method is: the fallback answers it.
        """
        allowed = [
            method
            for method in METHODS
            if any(route.match_by_path(path) for route in self.routes.get(method.encode(), ()))
        ]
        if allowed and "OPTIONS" not in allowed:
            allowed.append("OPTIONS")
        return allowed


def fallback_for(router: Router) -> Callable[[Request], Awaitable[Response]]:
    """The handler of what no route answers: OPTIONS (204 with Allow), a known path's other
    methods (405 with Allow, RFC 9110 section 15.5.6), or 404. A method the parser does not know
    never gets here: api/server.py answers it 501."""

    async def fallback(request: Request) -> Response:
        allowed = router.allowed_methods(request.url.path)
        if not allowed:
            raise ProblemError(404, f"no route for {request.method} {request.path}")
        allow = ", ".join(allowed)
        if request.method == "OPTIONS":
            return Response(204, [(b"allow", allow.encode())], None)
        raise ProblemError(
            405,
            f"{request.path} answers {allow}, not {request.method}",
            headers={"Allow": allow},
        )

    return fallback


def exclude_fixed_paths(router: BlackSheepRouter) -> None:
    """Keep each route with parameters off the fixed paths of any method that it would match:
    /api/v1/items/batch is the batch resource, not an item whose id is "batch", so GET on it is
    405 (with Allow: POST, OPTIONS) rather than a 422 about the id, and /items/{id} can be tried
    before every fixed path (see parameters_first). A negative lookahead at the start of the
    route's expression; the fixed path's own route is unchanged."""
    fixed = {
        route.pattern
        for routes in router.routes.values()
        for route in routes
        if not route.has_params
    }
    for routes in router.routes.values():
        for route in routes:
            if not route.has_params or isinstance(route, FilterRoute) or b".*" in route.rx.pattern:
                continue
            taken = sorted(path for path in fixed if route.rx.match(path))
            if taken:
                siblings = b"|".join(re.escape(path) for path in taken)
                lookahead = b"^(?!(?:" + siblings + b")$)"
                route._rx = re.compile(lookahead + route.rx.pattern[1:], route.rx.flags)


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


async def _no_parts() -> AsyncIterator[bytes]:
    nothing: tuple[bytes, ...] = ()
    for part in nothing:  # an async generator that yields nothing
        yield part


def without_body(response: Response) -> Response:
    """The response to HEAD: the GET response's status and headers, Content-Type and one
    Content-Length included, and no content (RFC 9110 section 9.3.2)."""
    content = response.content
    if content is not None:
        response.content = StreamedContent(content.type, _no_parts, content.length)
    return response
