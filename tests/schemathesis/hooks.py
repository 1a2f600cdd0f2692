"""Schemathesis hooks for tests/live/test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

Each one corrects what the fuzzer cannot know from a schema, in positive (schema-valid) cases
only, so that negative cases still reach the server as generated:
- an Idempotency-Key must be new for each new request: the fuzzer reuses short values ("0")
  for different bodies, which the server rightly answers 422 (reused key). Positive cases get a
  fresh key; tests/http/test_idempotency.py covers reuse, replay and 409.
- a cursor is opaque and signed by the server: a generated one is never valid (422). Positive
  cases drop it; paging is followed from real Link headers in tests/http/test_items_search.py.
- expires_at of a new API key must be in the future and within API_KEY_MAX_TTL_DAYS, which JSON
  Schema cannot say: a date-time outside that in a positive case is moved a day ahead.
- a list's or an export's `sort` takes only the filters its index serves (docs/api.md,
  "Sorting"), which the schema's enum cannot say: a positive case with a sort that the server
  refuses with its filters drops the sort; tests/http/test_items_lists.py and
  test_items_export.py cover the refusals.
- an import's body is an export's lines, which a string schema cannot say: a positive case sends
  one valid item in the media type it chose; tests/http/test_items_import.py covers bad lines.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import schemathesis

from api import settings
from api.contracts.items import parse_sort
from api.problems import ProblemError
from queries.items import SORTS, ItemFilter


def _positive(case: Any) -> bool:
    meta = case.meta
    return meta is None or meta.generation.mode.is_positive


# The service's default bound on an API key's life (the live test runs with the defaults).
_API_KEY_MAX_TTL_DAYS: int = settings.default("api_key_max_ttl_days")
_IMPORT_NDJSON = '{"name": "fuzzed"}\n'
_IMPORT_CSV = (
    "id,owner_id,name,description,tags,metadata,created_at,updated_at\r\n,,fuzzed,,[],{},,\r\n"
)
_SORTED = ("GET /api/v1/items", "GET /api/v1/items/export")
_FILTERS = {
    "tags": "tags_any",
    "tags_all": "tags_all",
    "metadata": "metadata",
    "q": "q",
    "created_after": "created_after",
    "created_before": "created_before",
}


def _sort_refused(query: dict[str, Any]) -> bool:
    """Whether the server refuses the query's sort for the filters given with it."""
    sort = query.get("sort")
    if sort not in SORTS:
        return False
    # parse_sort asks only which filters are given (Structs check no types when built).
    where = ItemFilter(
        **{
            attribute: object() if query.get(name) is not None else None
            for name, attribute in _FILTERS.items()
        }
    )
    try:
        parse_sort(sort, where)
    except ProblemError:
        return True
    return False


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if not _positive(case):
        return
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() == "idempotency-key":
            headers[name] = f'"{uuid4()}"'
    if isinstance(case.query, dict):
        case.query.pop("cursor", None)
        if case.operation.label in _SORTED and _sort_refused(case.query):
            case.query.pop("sort")
    if case.operation.label == "POST /api/v1/items/import":
        csv = (case.media_type or "").startswith("text/csv")
        case.body = _IMPORT_CSV if csv else _IMPORT_NDJSON
        return
    if case.operation.label == "POST /api/v1/api-keys" and isinstance(case.body, dict):
        expires_at = case.body.get("expires_at")
        if isinstance(expires_at, str):
            try:
                when = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
            except ValueError:
                return
            now = datetime.now(UTC)
            latest = now + timedelta(days=_API_KEY_MAX_TTL_DAYS) - timedelta(minutes=1)
            if when.tzinfo is not None and not now + timedelta(minutes=1) < when < latest:
                case.body["expires_at"] = (now + timedelta(days=1)).isoformat()
