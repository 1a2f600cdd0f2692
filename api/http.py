"""Request decoding and response encoding shared by the handlers."""

from __future__ import annotations

import re
from typing import Any, TypeVar
from uuid import UUID

import msgspec
from blacksheep import Content, Request, Response

from api.item_input import too_deep
from api.problems import FieldError, ProblemError

T = TypeVar("T")

JSON = b"application/json"
encode = msgspec.json.Encoder().encode
_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}
_JSON_MEDIA_TYPE = re.compile(rb"^application/([a-z0-9.+-]+\+)?json\s*(;|$)", re.IGNORECASE)
_FORM_MEDIA_TYPE = re.compile(rb"^application/x-www-form-urlencoded\s*(;|$)", re.IGNORECASE)
_UNKNOWN_FIELD = re.compile(r"^Object contains unknown field `(?P<name>[^`]*)`$")
_AT_PATH = re.compile(r"^(?P<message>.*?)(?: - at `(?P<path>[^`]*)`)?$", re.DOTALL)


def json_response(
    status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> Response:
    return Response(status, headers, Content(JSON, body))


def field_error(error: msgspec.ValidationError, root: str = "$") -> FieldError:
    """Split msgspec's "Expected `int`, got `str` - at `$.limit`" into a path and a message."""
    match = _AT_PATH.match(str(error))
    assert match is not None  # the pattern matches any text
    path, message = match["path"] or "$", match["message"]
    unknown = _UNKNOWN_FIELD.match(message)
    if unknown is not None:  # name the unknown field itself, not the object holding it
        path, message = f"{path}.{unknown['name']}", "unknown field"
    return FieldError(field=root + path[1:], message=message)


def validation_problem(error: msgspec.ValidationError, root: str = "$") -> ProblemError:
    located = field_error(error, root)
    return ProblemError(
        422, f"{located.field}: {located.message}", slug="validation-error", errors=[located]
    )


async def read_body(request: Request, max_bytes: int, *, form: bool = False) -> bytes:
    """The request body, refusing another media type (415) or more than max_bytes (413).

    JSON by default; `form=True` wants application/x-www-form-urlencoded instead.
    """
    content_type = request.get_first_header(b"content-type")
    expected = _FORM_MEDIA_TYPE if form else _JSON_MEDIA_TYPE
    if not content_type or not expected.match(content_type):
        wanted = "application/x-www-form-urlencoded" if form else "application/json"
        raise ProblemError(
            415,
            f"the body must be sent as Content-Type: {wanted}",
            headers={"Accept-Post": wanted},
        )
    too_large = ProblemError(413, f"the body must not exceed {max_bytes} bytes")
    declared = request.get_first_header(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():  # type: ignore[attr-defined]  # the .pyi is wrong
        if chunk:
            size += len(chunk)
            if size > max_bytes:
                raise too_large
            chunks.append(chunk)
    return b"".join(chunks)


def decode(body: bytes, kind: type[T]) -> T:
    """Decode and validate JSON into `kind`: 400 when it is not JSON, 422 naming the bad field."""
    decoder = _decoders.get(kind)
    if decoder is None:
        decoder = _decoders[kind] = msgspec.json.Decoder(kind)
    try:
        result: T = decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise validation_problem(exc) from None
    except RecursionError:  # nested deeper than msgspec decodes (about 900 levels)
        raise too_deep(body) from None
    except msgspec.DecodeError as exc:
        raise ProblemError(400, f"malformed JSON: {exc}", slug="malformed-json") from None
    except UnicodeDecodeError:
        raise ProblemError(400, "malformed JSON: not valid UTF-8", slug="malformed-json") from None
    return result


async def read_json(request: Request, kind: type[T], max_bytes: int) -> T:
    return decode(await read_body(request, max_bytes), kind)


def path_uuid(request: Request, name: str = "id") -> UUID:
    raw: str = request.route_values.get(name) or ""
    try:
        return UUID(raw)
    except ValueError:
        raise ProblemError(
            422,
            f"{name} must be a UUID, got {raw[:64]!r}",
            slug="validation-error",
            errors=[FieldError(field=f"path.{name}", message="must be a UUID")],
        ) from None
