"""Handlers for /api/v1/items."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID, uuid4

import asyncpg
import msgspec
from blacksheep import Request, Response
from msgspec import UNSET, Meta, Struct

from api.auth.principal import READ, WRITE
from api.auth.service import Authenticator
from api.cursor import decode_cursor, encode_cursor
from api.etags import etag_for, parse_tags, updated_at_of
from api.http import decode, encode, json_response, path_uuid, read_body, validation_problem
from api.problems import FieldError, ProblemError
from queries import items
from queries.items import BatchItem, Item, ItemFilter, ItemPatch, ItemWrite

PREFIX = "/api/v1/items"
MAX_BATCH = 1000
AwareDatetime = Annotated[datetime, Meta(tz=True)]


class ListQuery(Struct, forbid_unknown_fields=True):
    """Query parameters of GET /items, as strings converted by msgspec."""

    tags: str | None = None
    tags_all: str | None = None
    metadata: str | None = None
    q: Annotated[str, Meta(min_length=1, max_length=200)] | None = None
    created_after: AwareDatetime | None = None
    created_before: AwareDatetime | None = None
    limit: Annotated[int, Meta(ge=1, le=200)] = 50
    cursor: Annotated[str, Meta(max_length=512)] | None = None


BatchBody = Annotated[list[BatchItem], Meta(min_length=1, max_length=MAX_BATCH)]


class BatchResult(Struct):
    items: list[items.BatchOutcome]
    created: int
    updated: int


class ItemHandlers:
    def __init__(self, pool: asyncpg.Pool, auth: Authenticator, max_body_bytes: int) -> None:
        self.pool = pool
        self.auth = auth
        self.max_body_bytes = max_body_bytes

    async def create(self, request: Request) -> Response:
        principal = (await self.auth.authenticate(request)).require(WRITE)
        body = decode(await read_body(request, self.max_body_bytes), ItemWrite)
        item = await items.create(self.pool, body, principal.user_id)
        return _item_response(201, item, location=True)

    async def get(self, request: Request) -> Response:
        (await self.auth.authenticate(request)).require(READ)
        item_id = path_uuid(request)
        item = await items.get_by_id(self.pool, item_id)
        if item is None:
            raise _not_found(item_id)
        if_none_match = request.get_first_header(b"if-none-match")
        if if_none_match is not None:
            etag = etag_for(item.updated_at)
            tags = parse_tags(if_none_match)
            if "*" in tags or etag in tags:
                return Response(304, [(b"etag", etag.encode())], None)
        return _item_response(200, item)

    async def put(self, request: Request) -> Response:
        principal = (await self.auth.authenticate(request)).require(WRITE)
        item_id = path_uuid(request)
        body = decode(await read_body(request, self.max_body_bytes), ItemWrite)
        if_match = request.get_first_header(b"if-match")
        if if_match is None:
            outcome = await items.upsert(
                self.pool, item_id, body, principal.user_id, principal.is_admin
            )
            if outcome is None:
                raise _not_yours(item_id)
            item, created = outcome
            return _item_response(201 if created else 200, item, location=created)
        versions = _accepted_versions(if_match)
        replaced = await items.replace(
            self.pool, item_id, body, versions, principal.user_id, principal.is_admin
        )
        if replaced is None:
            raise await self._explain_refusal(item_id, principal.user_id, principal.is_admin, True)
        return _item_response(200, replaced)

    async def patch(self, request: Request) -> Response:
        principal = (await self.auth.authenticate(request)).require(WRITE)
        item_id = path_uuid(request)
        changes = decode(await read_body(request, self.max_body_bytes), ItemPatch)
        if all(getattr(changes, field) is UNSET for field in ItemPatch.__struct_fields__):
            raise ProblemError(
                422,
                "give at least one of: " + ", ".join(ItemPatch.__struct_fields__),
                slug="validation-error",
                errors=[FieldError(field="$", message="no field to change")],
            )
        if_match = request.get_first_header(b"if-match")
        versions = None if if_match is None else _accepted_versions(if_match)
        item = await items.patch(
            self.pool, item_id, changes, versions, principal.user_id, principal.is_admin
        )
        if item is None:
            raise await self._explain_refusal(
                item_id, principal.user_id, principal.is_admin, if_match is not None
            )
        return _item_response(200, item)

    async def delete(self, request: Request) -> Response:
        principal = (await self.auth.authenticate(request)).require(WRITE)
        item_id = path_uuid(request)
        if not await items.delete(self.pool, item_id, principal.user_id, principal.is_admin):
            raise await self._explain_refusal(item_id, principal.user_id, principal.is_admin, False)
        return Response(204, None, None)

    async def list(self, request: Request) -> Response:
        (await self.auth.authenticate(request)).require(READ)
        query = _list_query(request)
        where = ItemFilter(
            tags_any=_tag_list(query.tags, "tags"),
            tags_all=_tag_list(query.tags_all, "tags_all"),
            metadata=_metadata_filter(query.metadata),
            q=query.q,
            created_after=query.created_after,
            created_before=query.created_before,
        )
        after = None if query.cursor is None else decode_cursor(query.cursor, where)
        page = await items.find(self.pool, where, query.limit, after)
        headers = []
        if page.next_key is not None:
            params = [(k, v) for k, v in _query_pairs(request) if k != "cursor"]
            params.append(("cursor", encode_cursor(page.next_key, where)))
            link = f'<{PREFIX}?{urlencode(params)}>; rel="next"'
            headers.append((b"link", link.encode()))
        return json_response(200, encode(page.items), headers)

    async def batch(self, request: Request) -> Response:
        principal = (await self.auth.authenticate(request)).require(WRITE)
        body = decode(await read_body(request, self.max_body_bytes), BatchBody)
        seen: set[UUID] = set()
        for index, entry in enumerate(body):
            if entry.id is None:
                entry.id = uuid4()
            elif entry.id in seen:
                raise ProblemError(
                    422,
                    f"$[{index}].id: {entry.id} appears more than once in the batch",
                    slug="validation-error",
                    errors=[FieldError(field=f"$[{index}].id", message="duplicate id")],
                )
            seen.add(entry.id)
        try:
            outcomes = await items.upsert_batch(
                self.pool, body, principal.user_id, principal.is_admin
            )
        except items.BatchRefused as refused:
            raise ProblemError(
                403,
                "some items belong to another owner; nothing was written",
                slug="not-owner",
                extra={"refused_ids": [str(i) for i in refused.refused_ids]},
            ) from None
        created = sum(outcome.created for outcome in outcomes)
        result = BatchResult(outcomes, created=created, updated=len(outcomes) - created)
        return json_response(200, encode(result))

    async def _explain_refusal(
        self, item_id: UUID, caller_id: UUID, is_admin: bool, had_precondition: bool
    ) -> ProblemError:
        """Why a guarded write touched no row: absent (404), not yours (403) or stale (412).

        Only a request that sent If-Match can fail a precondition (RFC 9110 §13.1.1). Without
        one, a row that is there now but that the write did not find was deleted and created
        again while the write ran: at the write's moment the item did not exist, hence 404.
        """
        current = await items.get_by_id(self.pool, item_id)
        if current is None:
            if had_precondition:
                return ProblemError(412, "the item does not exist; If-Match cannot hold")
            return _not_found(item_id)
        if not is_admin and current.owner_id != caller_id:
            return _not_yours(item_id)
        if not had_precondition:
            return _not_found(item_id)
        return ProblemError(
            412,
            "the item has changed since you read it; GET it again for the current ETag",
            headers={"ETag": etag_for(current.updated_at)},
        )


def _item_response(status: int, item: Item, *, location: bool = False) -> Response:
    headers = [(b"etag", etag_for(item.updated_at).encode())]
    if location:
        headers.append((b"location", f"{PREFIX}/{item.id}".encode()))
    return json_response(status, encode(item), headers)


def _not_found(item_id: UUID) -> ProblemError:
    return ProblemError(404, f"no item with id {item_id}")


def _not_yours(item_id: UUID) -> ProblemError:
    return ProblemError(
        403,
        f"item {item_id} belongs to another user; only its owner or an admin may change it",
        slug="not-owner",
    )


def _accepted_versions(if_match: bytes) -> list[datetime] | None:
    """The updated_at values an If-Match header accepts; None for `*` (any existing version)."""
    tags = parse_tags(if_match)
    if "*" in tags:
        return None
    return [version for tag in tags if (version := updated_at_of(tag)) is not None]


def _query_pairs(request: Request) -> list[tuple[str, str]]:
    return [(key, value) for key, values in request.query.items() for value in values]


def _list_query(request: Request) -> ListQuery:
    raw: dict[str, str] = {}
    for key, values in request.query.items():
        if len(values) > 1 and key not in ("tags", "tags_all"):
            raise ProblemError(
                422,
                f"query.{key}: give this parameter once",
                slug="validation-error",
                errors=[FieldError(field=f"query.{key}", message="given more than once")],
            )
        raw[key] = ",".join(values)
    try:
        return msgspec.convert(raw, ListQuery, strict=False)
    except msgspec.ValidationError as exc:
        raise validation_problem(exc, root="query") from None


def _tag_list(value: str | None, name: str) -> list[str] | None:
    if value is None:
        return None
    tags = [tag.strip() for tag in value.split(",") if tag.strip()]
    problem = None
    if not tags:
        problem = "give at least one tag"
    elif len(tags) > 64:
        problem = "at most 64 tags"
    elif any(len(tag) > 64 for tag in tags):
        problem = "a tag has at most 64 characters"
    if problem is not None:
        raise ProblemError(
            422,
            f"query.{name}: {problem}",
            slug="validation-error",
            errors=[FieldError(field=f"query.{name}", message=problem)],
        )
    return tags


def _metadata_filter(value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        return msgspec.json.decode(value, type=dict[str, Any])
    except msgspec.DecodeError:
        message = 'must be a JSON object, e.g. {"color":"red"}'
        raise ProblemError(
            422,
            f"query.metadata: {message}",
            slug="validation-error",
            errors=[FieldError(field="query.metadata", message=message)],
        ) from None
