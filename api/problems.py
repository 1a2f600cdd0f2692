"""RFC 9457 problem details: the one JSON shape of every error response."""

from __future__ import annotations

from typing import Any

import msgspec
from blacksheep import Content, Response

PROBLEM_JSON = b"application/problem+json"


class FieldError(msgspec.Struct):
    """One invalid input, located by a JSON path such as `$.tags[2]` or `query.limit`."""

    field: str
    message: str


class Problem(msgspec.Struct, omit_defaults=True):
    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


# RFC 9110 section 15's reason phrases (Python's http.HTTPStatus still has RFC 7231's for 413
# and 422), the titles of problem documents.
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    408: "Request Timeout",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    428: "Precondition Required",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    499: "Client Closed Request",  # nginx's term; never sent, only logged
    500: "Internal Server Error",
    501: "Not Implemented",
    505: "HTTP Version Not Supported",
    503: "Service Unavailable",
}

# The Retry-After of every answer that asks the client to come back: in a second.
RETRY_AFTER = {"Retry-After": "1"}

_encode = msgspec.json.Encoder().encode


class ProblemError(Exception):
    """Raise from anywhere below a handler to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        slug: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or TITLES.get(status, "Error"))
        self.status = status
        self.detail = detail
        self.slug = slug
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra


def invalid(field: str, message: str, detail: str | None = None) -> ProblemError:
    """422 validation-error naming one invalid input (`errors: [{field, message}]`); the detail
    is `<field>: <message>` unless given."""
    return ProblemError(
        422,
        detail or f"{field}: {message}",
        slug="validation-error",
        errors=[FieldError(field=field, message=message)],
    )


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    slug: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    instance: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    title = TITLES.get(status, "Error")
    problem = Problem(
        type=f"/problems/{slug or title.lower().replace(' ', '-')}",
        title=title,
        status=status,
        detail=detail,
        instance=instance,
        errors=errors,
    )
    body = _encode(problem)
    if extra:
        body = _encode({**msgspec.json.decode(body), **extra})
    response = Response(status, None, Content(PROBLEM_JSON, body))
    for name, value in (headers or {}).items():
        response.add_header(name.encode(), value.encode())
    return response


def from_error(error: ProblemError, instance: str | None = None) -> Response:
    return problem_response(
        error.status,
        error.detail,
        slug=error.slug,
        errors=error.errors,
        headers=error.headers,
        instance=instance,
        extra=error.extra,
    )
