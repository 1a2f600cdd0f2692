"""Request decoding and response encoding shared by the handlers."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any, TypeVar
from urllib.parse import parse_qs
from uuid import UUID

import msgspec
from blacksheep import Content, Request, Response

from api.contracts import items, keys, users
from api.contracts.common import (
    CANONICAL_UUID,
    LIMIT_FORM,
    UUID_LENGTH,
    QueryForm,
    parse_uuid,
)
from api.problems import FieldError, ProblemError, invalid

T = TypeVar("T")

JSON = b"application/json"
encode = msgspec.json.Encoder().encode
_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}
_JSON_MEDIA_TYPE = re.compile(rb"^application/([a-z0-9.+-]+\+)?json\s*(;|$)", re.IGNORECASE)
_FORM_MEDIA_TYPE = re.compile(rb"^application/x-www-form-urlencoded\s*(;|$)", re.IGNORECASE)
_AT_BYTE = re.compile(r"\(byte (\d+)\)")
_CANONICAL_UUID = re.compile(CANONICAL_UUID)
_AT_PATH = re.compile(r"^(?P<message>.*?)(?: - at `(?P<path>[^`]*)`)?$", re.DOTALL)


def json_response(
    status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> Response:
    return Response(status, headers, Content(JSON, body))


def field_error(error: msgspec.ValidationError, root: str = "$") -> FieldError:
    """Split msgspec's "Expected `int`, got `str` - at `$.limit`" into a path and a message in
    plain words ("must be an integer, got a string"): no library wording, no regex."""
    match = _AT_PATH.match(str(error))
    assert match is not None  # the pattern matches any text
    path, message = match["path"] or "$", match["message"]
    named = _NAMED_FIELD.match(message)
    if named is not None:  # name the unknown or missing field itself, not the object holding it
        path = f"{path}.{named['name']}"
        message = "unknown field" if named["kind"] == "contains unknown" else "is required"
    else:
        message = plain_message(message)
    return FieldError(field=root + path[1:], message=message)


_TYPE_WORDS = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean",
    "array": "an array",
    "object": "an object",
    "null": "null",
    "datetime": "an RFC 3339 date-time",
    "date": "an RFC 3339 date",
    "time": "an RFC 3339 time",
    "uuid": "a UUID",
    "bytes": "base64 bytes",
    "decimal": "a decimal number",
}
_UNITS = {"str": "characters", "array": "entries", "object": "members", "bytes": "bytes"}
_BOUNDS = {">=": "at least", "<=": "at most", ">": "greater than", "<": "less than"}
_NAMED_FIELD = re.compile(
    r"^Object (?P<kind>contains unknown|missing required) field `(?P<name>[^`]*)`$"
)
# Each contract's patterns, with the words it gives for a value that does not match.
_PATTERN_MESSAGES = {
    **items.PATTERN_MESSAGES,
    **keys.PATTERN_MESSAGES,
    **users.PATTERN_MESSAGES,
}
_MESSAGES: list[tuple[re.Pattern[str], Any]] = [
    *(
        (
            re.compile("^Expected `str` matching regex " + re.escape(repr(pattern))),
            lambda m, text=text: text,
        )
        for pattern, text in _PATTERN_MESSAGES.items()
    ),
    (
        re.compile(r"^Expected `str` matching regex .*x00"),
        lambda m: "must not contain NUL characters",
    ),
    (re.compile(r"^Expected `str` matching regex "), lambda m: "does not have the expected form"),
    (
        # Text is decoded with room for NFD (api.contracts.common.NFC_EXPANSION): say the stored
        # limit.
        re.compile(r"^Expected `str` of length <= (\d+)$"),
        lambda m: f"must have at most {items.STORED_LENGTH.get(int(m[1]), m[1])} characters",
    ),
    (
        re.compile(r"^Expected `(\w+)` of length (>=|<=) (\d+)$"),
        lambda m: f"must have {_BOUNDS[m[2]]} {m[3]} {_UNITS.get(m[1], 'items')}",
    ),
    (re.compile(r"^Expected `array` of .*length"), lambda m: "has the wrong number of entries"),
    (
        re.compile(r"^Expected `(?:int|float)` (>=|<=|>|<) (\S+)$"),
        lambda m: f"must be {_BOUNDS[m[1]]} {m[2]}",
    ),
    (
        re.compile(r"^Expected `int` that's a multiple of (\d+)$"),
        lambda m: f"must be a multiple of {m[1]}",
    ),
    (
        re.compile(r"^Expected `\w+` with a timezone"),
        lambda m: "must include a UTC offset (Z or +hh:mm)",
    ),
    (re.compile(r"^Expected `\w+` with no timezone"), lambda m: "must not include a UTC offset"),
    (
        re.compile(r"^Expected `([^`]+)`, got `([^`]+)`$"),
        lambda m: f"must be {_types(m[1])}, got {_types(m[2])}",
    ),
    (re.compile(r"^Expected `([^`]+)`$"), lambda m: f"must be {_types(m[1])}"),
    (re.compile(r"^Invalid RFC3339 encoded (\w+)$"), lambda m: f"must be an RFC 3339 {m[1]}"),
    (re.compile(r"^Invalid UUID"), lambda m: "must be a UUID"),
    (re.compile(r"^Invalid (?:enum )?value"), lambda m: "is not one of the allowed values"),
    (re.compile(r"out of range$"), lambda m: "is out of range"),
    (re.compile(r"^Invalid base64"), lambda m: "must be base64"),
]


def _types(text: str) -> str:
    return " or ".join(_TYPE_WORDS.get(part.strip(), "another type") for part in text.split("|"))


def plain_message(message: str) -> str:
    """msgspec's validation message in plain words; "is not valid" for one it has not seen."""
    for pattern, word in _MESSAGES:
        found = pattern.search(message)
        if found is not None:
            text: str = word(found)
            return text
    return "is not valid"


def validation_problem(error: msgspec.ValidationError, root: str = "$") -> ProblemError:
    located = field_error(error, root)
    return invalid(located.field, located.message)


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
        raise items.too_deep(body) from None
    except msgspec.DecodeError as exc:
        at = _AT_BYTE.search(str(exc))
        where = f" (at byte {at[1]})" if at is not None else ""
        raise ProblemError(
            400, f"the body is not valid JSON{where}", slug="malformed-json"
        ) from None
    except UnicodeDecodeError:
        raise ProblemError(400, "malformed JSON: not valid UTF-8", slug="malformed-json") from None
    # JSON can carry a NUL only as \u0000, and PostgreSQL stores it in no text column: refuse
    # it here, naming the field, instead of as the database's error. Free-form JSON (item
    # metadata, kept as its text) is left to its own check, api.contracts.items.metadata_problem.
    if b"\\u0000" in body:
        path = nul_path(msgspec.to_builtins(result, enc_hook=_skip_raw))
        if path is not None:
            raise invalid(path, "must not contain NUL characters")
    return result


def _skip_raw(value: Any) -> None:
    if not isinstance(value, msgspec.Raw):
        raise NotImplementedError(type(value))


def nul_path(value: Any) -> str | None:
    """The JSON path of the first string (or object key) in `value` that holds a NUL. Walked
    with a stack, not recursion, so that no nesting depth can overflow Python's."""
    stack: list[tuple[str, Any]] = [("$", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return path
        elif isinstance(item, dict):
            if any("\x00" in key for key in item):
                return path
            stack.extend((f"{path}.{key}", member) for key, member in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", member) for i, member in reversed(list(enumerate(item))))
    return None


async def read_json(request: Request, kind: type[T], max_bytes: int) -> T:
    return decode(await read_body(request, max_bytes), kind)


def path_uuid(request: Request, name: str = "id") -> UUID:
    """The path parameter `name` as a UUID, given in its canonical 8-4-4-4-12 form (either
    case) only, so that a resource has one URL; 422 otherwise."""
    raw: str = request.route_values.get(name) or ""
    if len(raw) != UUID_LENGTH or _CANONICAL_UUID.match(raw) is None:
        raise invalid(
            f"path.{name}",
            "must be a UUID",
            f"{name} must be a UUID in its 8-4-4-4-12 form, got {raw[:64]!r}",
        )
    return parse_uuid(raw)


def query_params(request: Request) -> dict[str, list[str]]:
    """The query's parameters, empty values kept (BlackSheep's request.query drops them, so
    `created_after=` passed as if absent); 422 when the query is not UTF-8."""
    raw = request.url.query
    if not raw:
        return {}
    try:
        return parse_qs(raw.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise invalid("query", "not valid UTF-8 once percent-decoded") from None


def read_query(
    request: Request,
    kind: type[T],
    *,
    forms: Collection[QueryForm] = (LIMIT_FORM,),
    repeatable: Collection[str] = (),
) -> T:
    """The query's parameters converted into `kind` (a Struct of strings, numbers and dates),
    or 422 naming `query.<name>`: a parameter given twice (unless `repeatable`: its values are
    joined with commas), holding NUL, not in its strict form, or refused by `kind`."""
    raw: dict[str, str] = {}
    for key, values in query_params(request).items():
        if len(values) > 1 and key not in repeatable:
            raise invalid(f"query.{key}", "given more than once")
        raw[key] = ",".join(values)
        # PostgreSQL stores a NUL in no text column.
        if "\x00" in raw[key]:
            raise invalid(f"query.{key}", "must not contain NUL characters")
    for key, form, message in forms:
        if key in raw and not form.match(raw[key]):
            raise invalid(f"query.{key}", message)
    try:
        return msgspec.convert(raw, kind, strict=False)
    except msgspec.ValidationError as exc:
        raise validation_problem(exc, root="query") from None


# One preference of a Prefer header with its parameters (RFC 7240 section 2): a comma inside a
# quoted-string is the value's, not a separator (a quoted-string always matches, to its closing
# quote or the end, so no attempt fails after scanning: linear in the header's length); and its
# name and value, before any parameter.
_PREFERENCE = re.compile(r'(?:[^,"]|"(?:[^"\\]|\\.?)*"?)+')
_PREFERENCE_HEAD = re.compile(r'\s*([^\s=;]*)\s*(?:=\s*("(?:[^"\\]|\\.)*"?|[^\s;]*))?')


def preferences(request: Request) -> dict[str, str]:
    """The preferences of the request's Prefer headers (RFC 7240 section 2): token, or
    token=value (quotes removed), names in lower case, the first of each name kept; parameters
    after `;` ignored. Nothing here is refused: a server may ignore any preference."""
    found: dict[str, str] = {}
    for header in request.get_headers(b"prefer"):
        for preference in _PREFERENCE.finditer(header.decode("latin-1")):
            head = _PREFERENCE_HEAD.match(preference[0])
            assert head is not None  # every part is optional
            name, value = head[1].lower(), head[2] or ""
            if name and name not in found:
                found[name] = value.strip().strip('"')
    return found
