"""CORS (the Fetch standard's protocol) with BlackSheep's CORSPolicy and CORS middleware.

BlackSheep's middleware decides the policy: which origins, whether a preflight's method and
headers are allowed, and the Access-Control-* headers it writes. Around it this module changes
three behaviours that the API's contract needs:
- a request from an origin that is not allowed is served as any other request, without CORS
  headers (BlackSheep answers it 400, which also breaks same-origin POSTs that carry Origin);
- a preflight answers 204 (BlackSheep: 200) and lists every request header the API reads;
- `Vary: Origin` is on every response, so that a cache never hands one origin's answer to
  another (BlackSheep adds it only to CORS responses).
- a refused preflight is a problem document in the API's own words (BlackSheep's text named
  its own rules).
Preflights are answered here, before the main middleware (api/middleware.py), so their answers
get its X-Request-Id and nosniff here; they have no access line.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from blacksheep import Application, Request, Response
from blacksheep.server.cors import CORSPolicy, CORSStrategy, get_cors_middleware

from api.middleware import NOSNIFF, NOSNIFF_NAME, request_id_of
from api.problems import problem_response
from api.routing import METHODS

Handler = Callable[[Request], Awaitable[Response]]
# The request headers the API reads, and the response headers a page may read.
ALLOW_HEADERS = (
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "Idempotency-Key",
    "Consistency-Token",
    "X-Request-Id",
    "X-API-Key",
)
EXPOSE_HEADERS = (
    "ETag",
    "Location",
    "Link",
    "Retry-After",
    "X-Request-Id",
    "Consistency-Token",
)
_REQUEST_METHOD = b"access-control-request-method"
_REQUEST_HEADERS = b"access-control-request-headers"
_READ_HEADERS = frozenset(name.lower() for name in ALLOW_HEADERS)
_ALLOW_HEADERS_VALUE = ", ".join(ALLOW_HEADERS).encode()
_EXPOSE_HEADERS_VALUE = ", ".join(EXPOSE_HEADERS).encode()


def make_cors_middleware(
    app: Application, origins: tuple[str, ...], max_age_seconds: int
) -> Callable[[Request, Handler], Awaitable[Response]]:
    """The CORS middleware for `origins` (lower-cased, or "*"); put it first in the chain."""
    strategy = CORSStrategy(
        CORSPolicy(
            allow_methods=METHODS,
            allow_headers=ALLOW_HEADERS,
            allow_origins=origins,
            max_age=max_age_seconds,
            expose_headers=EXPOSE_HEADERS,
        ),
        app.router,
    )
    library = get_cors_middleware(app, strategy)
    any_origin = "*" in origins
    allowed = {origin.encode() for origin in origins}

    async def cors(request: Request, handler: Handler) -> Response:
        origin = request.get_first_header(b"origin")
        # Exact: browsers send an origin serialized in lower case (RFC 6454 section 6.1), and
        # BlackSheep's policy compares exactly too; another spelling is another origin.
        if origin is None or not (any_origin or origin in allowed):
            response = await handler(request)
            if not any_origin:
                response.add_header(b"vary", b"Origin")
            return response
        requested = request.get_first_header(_REQUEST_METHOD)
        preflight = request.method == "OPTIONS" and requested is not None
        method = requested if preflight and requested is not None else request.method.encode()
        if strategy.router.get_matching_route(method, request.url.path) is None:
            # An unknown path or method: the API's own 404, 405 or OPTIONS answer. A preflight
            # gets no CORS headers, so the browser refuses the request it asks about.
            response = await handler(request)
            if not preflight:
                response.set_header(b"access-control-allow-origin", b"*" if any_origin else origin)
                response.set_header(b"access-control-expose-headers", _EXPOSE_HEADERS_VALUE)
            if not any_origin:
                response.add_header(b"vary", b"Origin")
            return response
        response = await library(request, handler)
        if response.get_first_header(b"cors-error") is not None:
            # A preflight for a header the API does not read (every method of the route's is
            # allowed: the route was found above).
            response = problem_response(400, _refusal(request), slug="cors-refused")
            if not any_origin:
                response.add_header(b"vary", b"Origin")
        elif not preflight:
            return response  # the main middleware's answer: it has its headers
        else:
            response.status = 204
            response.set_header(b"access-control-allow-headers", _ALLOW_HEADERS_VALUE)
        response.add_header(b"x-request-id", request_id_of(request).encode())
        response.add_header(NOSNIFF_NAME, NOSNIFF)
        return response

    return cors


def _refusal(request: Request) -> str:
    """The detail of a refused preflight: the first request header it names that the API does
    not read."""
    named = (request.get_first_header(_REQUEST_HEADERS) or b"").decode("latin-1").split(",")
    unread = next((name.strip() for name in named if name.strip().lower() not in _READ_HEADERS), "")
    if not unread:
        return "the preflight asks for what this API does not allow"
    return (
        f"the API does not read the request header {unread[:64]!r};"
        f" a cross-origin request may send {', '.join(ALLOW_HEADERS)}"
    )
