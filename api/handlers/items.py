"""Handlers for /api/v1/items."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, NamedTuple, TypeVar, cast
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from blacksheep import Request, Response, StreamedContent

from api import budget, consistency
from api.auth.principal import READ, WRITE
from api.auth.service import Authenticator
from api.contracts.items import (
    EXPORT_FORMATS,
    ITEM_COUNT_CAP,
    LIST_FORMS,
    LIST_REPEATABLE,
    BatchBody,
    BatchResult,
    ExportQuery,
    ImportResult,
    ItemPatch,
    ItemQuery,
    ItemWrite,
    ListQuery,
    clean_batch,
    clean_body,
    clean_patch,
    clean_write,
    item_filter,
    parse_fields,
    parse_sort,
)
from api.cursor import decode_cursor, next_link, order_of
from api.etags import etag_for, matches_weakly, parse_tags, strong_versions
from api.export import StreamSlots, export_format, export_slots, open_export
from api.http import (
    decode,
    encode,
    json_response,
    path_uuid,
    preferences,
    read_body,
    read_query,
)
from api.idempotency import Idempotency, fingerprint_of, idempotency_key
from api.importer import (
    IMPORT_BAD_LINES,
    IMPORT_STATEMENT_TIMEOUT_MS,
    ImportReader,
    import_format,
    import_slots,
)
from api.problems import FieldError, ProblemError
from queries import items
from queries.coalesce import PointReads
from queries.items import Item, ItemFilter
from queries.pool import Executor
from queries.replicas import ReplicaSet, Target

if TYPE_CHECKING:
    from queries.idempotency import Connection

PREFIX = "/api/v1/items"
# Of a list's budget, what a count leaves for answering the page it was asked with: a count
# still running then is cancelled, and the page answered without it.
COUNT_RESERVE_SECONDS = 0.1

_T = TypeVar("_T")


class WriteGuard(NamedTuple):
    """What a write may change, by its preconditions."""

    versions: list[datetime] | None  # the versions (updated_at) it may change; None: any
    conditional: bool  # a precondition was given: an absent item answers 412, not 404
    create_only: bool  # If-None-Match holds only while the item is absent


class ItemHandlers:
    def __init__(
        self,
        pool: asyncpg.Pool,
        auth: Authenticator,
        max_body_bytes: int,
        idempotency: Idempotency,
        max_response_bytes: int,
        max_items_per_user: int,
        point_reads: PointReads | None,
        replicas: ReplicaSet | None,
        request_timeout_ms: int,
        import_max_bytes: int,
    ) -> None:
        self.pool = pool
        self.exports: StreamSlots = export_slots()
        self.imports: StreamSlots = import_slots()
        self.import_max_bytes = import_max_bytes
        self.budget_seconds = request_timeout_ms / 1000
        # GET's read: coalesced with concurrent ones (COALESCE_READS), or a statement of its own;
        # with replicas, on the one the request may read (api/consistency.py).
        self.read: Callable[[UUID], Awaitable[Item | None]] = (
            partial(items.get_by_id, pool)
            if point_reads is None
            else partial(items.get_coalesced, point_reads)
        )
        self.replicas = replicas
        if replicas is not None:
            self.read = partial(
                _read_routed, replicas, _coalesced_get if point_reads else _get_by_id
            )
        self.max_items = max_items_per_user
        self.auth = auth
        self.max_body_bytes = max_body_bytes
        self.idempotency = idempotency
        self.max_response_bytes = max_response_bytes

    async def create(self, request: Request) -> Response:
        principal = (await self.auth.authenticate(request)).require(WRITE)
        raw = await read_body(request, self.max_body_bytes)
        body = decode(raw, ItemWrite)
        await clean_body(len(raw), clean_write, body)
        key = idempotency_key(request)
        if key is None:
            item = await items.create(self.pool, body, principal.user_id, self.max_items)
            if item is None:
                raise self._over_quota()
            return _item_response(201, item, location=True)

        async def write(connection: Connection) -> Response:
            item = await items.create(connection, body, principal.user_id, self.max_items)
            if item is None:
                raise self._over_quota()
            return _item_response(201, item, location=True)

        return await self.idempotency.respond(request, principal.user_id, key, raw, write)

    async def get(self, request: Request) -> Response:
        (await self.auth.authenticate(request)).require(READ)
        item_id = path_uuid(request)
        # `fields`: a path of its own. Without a query, nothing else changes: the raw query is
        # read where it lies (request.url would parse the URL, 0.75 us, for every read).
        if request._raw_query:  # type: ignore[attr-defined]
            fields = parse_fields(read_query(request, ItemQuery).fields)
            if fields is not None:
                return await self._get_fields(request, item_id, fields)
        item = await self.read(item_id)
        if item is None:
            raise _absent(request, item_id)
        not_modified = _preconditions(request, item.updated_at)
        return not_modified or _item_response(200, item)

    async def _get_fields(self, request: Request, item_id: UUID, fields: list[str]) -> Response:
        """GET of some fields, built by PostgreSQL; the ETag and the preconditions are the
        whole item's."""
        found = await self._read(lambda db: items.get_fields_by_id(db, item_id, fields))
        if found is None:
            raise _absent(request, item_id)
        not_modified = _preconditions(request, found.updated_at)
        etag = etag_for(found.updated_at)
        return not_modified or json_response(200, bytes(found.json), [(b"etag", etag.encode())])

    async def put(self, request: Request) -> Response:
        principal = (await self.auth.authenticate(request)).require(WRITE)
        item_id = path_uuid(request)
        raw = await read_body(request, self.max_body_bytes)
        body = decode(raw, ItemWrite)
        await clean_body(len(raw), clean_write, body)
        guard = await self._guard(request, item_id, principal.user_id, principal.is_admin)
        if guard.create_only:
            created = await items.create_if_absent(
                self.pool, item_id, body, principal.user_id, self.max_items
            )
            if created is None:  # it exists (412 with its ETag, 403 when not yours), or quota
                raise await self._explain_refusal(
                    item_id, principal.user_id, principal.is_admin, guard, self._over_quota()
                )
            return _item_response(201, created, location=True)
        if not guard.conditional:
            outcome = await items.upsert(
                self.pool, item_id, body, principal.user_id, principal.is_admin, self.max_items
            )
            if outcome is None:  # it is not yours, or it is new and you own too many
                raise await self._explain_refusal(
                    item_id, principal.user_id, principal.is_admin, guard, self._over_quota()
                )
            item, created_now = outcome
            return _item_response(201 if created_now else 200, item, location=created_now)
        replaced = await items.replace(
            self.pool, item_id, body, guard.versions, principal.user_id, principal.is_admin
        )
        if replaced is None:
            raise await self._explain_refusal(item_id, principal.user_id, principal.is_admin, guard)
        return _item_response(200, replaced)

    async def patch(self, request: Request) -> Response:
        principal = (await self.auth.authenticate(request)).require(WRITE)
        item_id = path_uuid(request)
        raw = await read_body(request, self.max_body_bytes)
        changes = decode(raw, ItemPatch)
        await clean_body(len(raw), clean_patch, changes)
        guard = await self._guard(request, item_id, principal.user_id, principal.is_admin)
        item = None
        if not guard.create_only:  # PATCH never creates: If-None-Match: * cannot hold
            item = await items.patch(
                self.pool, item_id, changes, guard.versions, principal.user_id, principal.is_admin
            )
        if item is None:
            raise await self._explain_refusal(item_id, principal.user_id, principal.is_admin, guard)
        return _item_response(200, item)

    async def delete(self, request: Request) -> Response:
        principal = (await self.auth.authenticate(request)).require(WRITE)
        item_id = path_uuid(request)
        guard = await self._guard(request, item_id, principal.user_id, principal.is_admin)
        deleted = not guard.create_only and await items.delete(
            self.pool, item_id, principal.user_id, principal.is_admin, guard.versions
        )
        if not deleted:
            raise await self._explain_refusal(item_id, principal.user_id, principal.is_admin, guard)
        return Response(204, None, None)

    async def _guard(
        self, request: Request, item_id: UUID, caller_id: UUID, is_admin: bool
    ) -> WriteGuard:
        """What If-Match and If-None-Match let a write change (RFC 9110 section 13.2.2).

        If-Match compares strongly: a weak tag never matches, `*` wants an existing item.
        If-None-Match compares weakly: `*` wants an absent item; a list of tags is checked here
        against the current version, which the write then requires, so that a change between
        the two statements makes the write touch nothing (and answer 412).
        """
        if_match = parse_tags(request.get_headers(b"if-match"))
        if_none_match = parse_tags(request.get_headers(b"if-none-match"))
        if if_none_match is None:
            if if_match is None:
                return WriteGuard(None, conditional=False, create_only=False)
            versions = None if if_match.any else strong_versions(if_match)
            return WriteGuard(versions, conditional=True, create_only=False)
        if if_match is not None and if_none_match.any:
            raise ProblemError(412, "If-Match and If-None-Match: * cannot both hold")
        if if_none_match.any:
            return WriteGuard(None, conditional=False, create_only=True)
        current = await items.get_by_id(self.pool, item_id)
        if current is None:
            if if_match is not None:
                raise _absent_for_if_match(item_id)
            return WriteGuard(None, conditional=False, create_only=True)
        if not is_admin and current.owner_id != caller_id:
            raise _not_yours(item_id)
        etag = etag_for(current.updated_at)
        refused = matches_weakly(if_none_match, etag) or (
            if_match is not None
            and not if_match.any
            and current.updated_at not in strong_versions(if_match)
        )
        if refused:
            raise _stale(etag)
        return WriteGuard([current.updated_at], conditional=True, create_only=False)

    async def list(self, request: Request) -> Response:
        (await self.auth.authenticate(request)).require(READ)
        query = _list_query(request)
        where = item_filter(query)
        sort = parse_sort(query.sort, where)
        fields = parse_fields(query.fields)
        order = order_of(sort, search=where.q is not None)
        after = None
        if query.cursor is not None:
            after = decode_cursor(query.cursor, where, order)
        limit, max_bytes = query.limit, self.max_response_bytes
        page = await self._read(
            lambda db: items.find(db, where, limit, after, max_bytes, sort, fields)
        )
        # The answer depends on Prefer (a count or none): caches must key on it.
        headers = [(b"vary", b"Prefer")]
        if page.next_key is not None:
            headers.append(next_link(request, PREFIX, page.next_key, where, order))
        # The answer shows these items, and one more follows when there is a next page: no count
        # says fewer (an estimate may, as may a count of a snapshot after a delete).
        count = await self._count(request, where, len(page.items) + (page.next_key is not None))
        if count is not None:
            applied, total = count
            first = after is None and page.items
            shown = f"0-{len(page.items) - 1}" if first else "*"
            headers.append((b"content-range", f"{shown}/{total}".encode()))
            headers.append((b"preference-applied", f"count={applied}".encode()))
        return json_response(200, encode(page.items), headers)

    async def export(self, request: Request) -> Response:
        """Every item the list would show, in its order, streamed (api/export.py)."""
        principal = (await self.auth.authenticate(request)).require(READ)
        query = read_query(request, ExportQuery, forms=LIST_FORMS, repeatable=LIST_REPEATABLE)
        where = item_filter(query)
        sort = parse_sort(query.sort, where)
        format_ = export_format(request, query.format)
        media_type = EXPORT_FORMATS[format_][1]
        headers = [(b"vary", b"Accept")]
        if request.method == "HEAD":
            return Response(200, [*headers, (b"content-type", media_type)], None)
        body = await open_export(
            request,
            self.pool,
            where,
            sort,
            format_,
            self.exports,
            str(principal.user_id),
            self.budget_seconds,
        )
        return Response(200, headers, StreamedContent(media_type, body))

    async def import_items(self, request: Request) -> Response:
        """The export's formats read back into items, all or nothing (api/importer.py)."""
        principal = (await self.auth.authenticate(request)).require(WRITE)
        format_ = import_format(request)
        key = idempotency_key(request)
        user = str(principal.user_id)
        task = asyncio.current_task()
        assert task is not None
        fingerprint = fingerprint_of(request)
        reader = ImportReader(
            request,
            format_,
            self.import_max_bytes,
            self.max_body_bytes,
            fingerprint,
            self.budget_seconds,
        )

        async def stage(connection: Connection) -> None:
            await items.stage_import(
                cast(PoolConnectionProxy, connection), reader.records(), IMPORT_STATEMENT_TIMEOUT_MS
            )
            if reader.bad:
                raise reader.problem()

        async def write(connection: Connection) -> Response:
            budget.extend(task, request.content, IMPORT_STATEMENT_TIMEOUT_MS / 1000)
            try:
                outcome = await items.write_import(
                    cast(PoolConnectionProxy, connection),
                    principal.user_id,
                    principal.is_admin,
                    self.max_items,
                    IMPORT_BAD_LINES,
                )
            except items.OverQuota:
                raise self._over_quota() from None
            except items.ImportRefused as refused:
                raise ProblemError(
                    403,
                    "some lines name items of another owner; nothing was imported",
                    slug="not-owner",
                    extra={
                        "refused": [
                            {"line": line, "id": str(item_id)} for line, item_id in refused.lines
                        ]
                    },
                ) from None
            except items.ImportDuplicates as duplicates:
                errors = [
                    FieldError(field=f"lines[{line}].id", message=f"line {first} has it too")
                    for line, _, first in duplicates.lines
                ]
                raise ProblemError(
                    422,
                    "some lines repeat the id of an earlier line; nothing was imported",
                    slug="validation-error",
                    errors=errors,
                ) from None
            unchanged = reader.items - outcome.created - outcome.updated
            result = ImportResult(outcome.created, outcome.updated, unchanged)
            return json_response(200, encode(result))

        self.imports.take(user)
        try:
            async with self.pool.acquire() as connection, connection.transaction():
                if key is None:
                    await stage(connection)
                    return await write(connection)
                return await self.idempotency.respond_streamed(
                    connection, principal.user_id, key, fingerprint, stage, write
                )
        finally:
            self.imports.give_back(user)
            budget.finish(task)

    async def _read(self, read: Callable[[Executor], Awaitable[_T]]) -> _T:
        """`read` on the primary, or with replicas on one the request may read (its
        Consistency-Token, api/consistency.py), as every read of a page, a count or some fields."""
        if self.replicas is None:
            return await read(self.pool)
        return await self.replicas.read(consistency.needed(), lambda target: read(target.pool))

    async def _count(
        self, request: Request, where: ItemFilter, least: int
    ) -> tuple[str, str] | None:
        """The count `Prefer: count=exact|estimated` asks for (RFC 7240), as (the preference
        applied, the count as Content-Range writes it), or None when none is asked for, or when
        it cannot be had within the request's budget: the page is then answered without it, as
        RFC 7240 lets a server ignore a preference. Exact counts stop at ITEM_COUNT_CAP
        ("100000+"); an estimate is the planner's, and an exact count where it has none
        (queries.items.estimate); neither is less than `least`."""
        wanted = preferences(request).get("count")
        if wanted not in ("exact", "estimated"):
            return None
        left = budget.left() - COUNT_RESERVE_SECONDS
        try:
            async with asyncio.timeout(None if left == math.inf else left):
                if wanted == "estimated":
                    estimate = await self._read(lambda db: items.estimate(db, where))
                    if estimate is not None:
                        return "estimated", str(max(estimate, least))
                counted = await self._read(lambda db: items.count(db, where, ITEM_COUNT_CAP + 1))
        except TimeoutError:
            return None
        if counted > ITEM_COUNT_CAP:
            return "exact", f"{ITEM_COUNT_CAP}+"
        return "exact", str(max(counted, least))

    async def batch(self, request: Request) -> Response:
        principal = (await self.auth.authenticate(request)).require(WRITE)
        raw = await read_body(request, self.max_body_bytes)
        body = decode(raw, BatchBody)
        await clean_body(len(raw), clean_batch, body)

        async def write(db: Executor | Connection) -> Response:
            try:
                outcomes = await items.upsert_batch(
                    db, body, principal.user_id, principal.is_admin, self.max_items
                )
            except items.OverQuota:
                raise self._over_quota() from None
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

        key = idempotency_key(request)
        if key is None:
            return await write(self.pool)
        return await self.idempotency.respond(request, principal.user_id, key, raw, write)

    def _over_quota(self) -> ProblemError:
        return ProblemError(
            403,
            f"this user owns {self.max_items} items, the most allowed (ITEMS_MAX_PER_USER);"
            " delete some to make room. Nothing was written",
            slug="item-quota",
        )

    async def _explain_refusal(
        self,
        item_id: UUID,
        caller_id: UUID,
        is_admin: bool,
        guard: WriteGuard,
        if_absent: ProblemError | None = None,
    ) -> ProblemError:
        """Why a guarded write touched no row: absent (404), not yours (403) or stale (412).
        A write that would have created the item answers `if_absent` when it is absent.

        Only a request that sent a precondition can fail one (RFC 9110 §13.1.1). If-Match fails
        on an absent item; If-None-Match: * holds on it (the write then finds nothing: 404).
        Without a precondition, a row that is there now but that the write did not find was
        deleted and created again while the write ran: at the write's moment the item did not
        exist, hence 404.
        """
        current = await items.get_by_id(self.pool, item_id)
        if current is None:
            if if_absent is not None:
                return if_absent
            if guard.conditional:
                return ProblemError(412, "the item does not exist; If-Match cannot hold")
            return _not_found(item_id)
        if not is_admin and current.owner_id != caller_id:
            return _not_yours(item_id)
        if not (guard.conditional or guard.create_only):
            return _not_found(item_id)
        return _stale(etag_for(current.updated_at))


async def _read_routed(
    replicas: ReplicaSet,
    read: Callable[[Target, UUID], Awaitable[Item | None]],
    item_id: UUID,
) -> Item | None:
    """`read` of one item on a replica the request may read, else on the primary: each target
    has point reads of its own, so a coalesced batch never mixes requests of two servers."""
    return await replicas.read(consistency.needed(), lambda target: read(target, item_id))


async def _coalesced_get(target: Target, item_id: UUID) -> Item | None:
    assert target.point_reads is not None
    return await items.get_coalesced(target.point_reads, item_id)


async def _get_by_id(target: Target, item_id: UUID) -> Item | None:
    return await items.get_by_id(target.pool, item_id)


def _item_response(status: int, item: Item, *, location: bool = False) -> Response:
    headers = [(b"etag", etag_for(item.updated_at).encode())]
    if location:
        headers.append((b"location", f"{PREFIX}/{item.id}".encode()))
    return json_response(status, encode(item), headers)


def _stale(etag: str) -> ProblemError:
    return ProblemError(
        412,
        "the item's current version does not satisfy If-Match / If-None-Match; "
        "GET it again for its ETag",
        headers={"ETag": etag},
    )


def _absent(request: Request, item_id: UUID) -> ProblemError:
    """A GET of an item that does not exist: 412 under If-Match (RFC 9110 section 13.1.1: false
    when there is no current representation), else 404."""
    if request.get_headers(b"if-match"):
        return _absent_for_if_match(item_id)
    return _not_found(item_id)


def _preconditions(request: Request, updated_at: datetime) -> Response | None:
    """RFC 9110 section 13.2.2 for a GET of an item last updated at `updated_at`: raises 412
    when If-Match holds no strong match; the 304 when If-None-Match matches weakly; else None."""
    if_match = request.get_headers(b"if-match")
    if if_match:
        tags = parse_tags(if_match)
        if tags is not None and not tags.any and updated_at not in strong_versions(tags):
            raise _stale(etag_for(updated_at))
    if_none_match = request.get_headers(b"if-none-match")
    if if_none_match:
        etag = etag_for(updated_at)
        tags = parse_tags(if_none_match)
        if tags is not None and matches_weakly(tags, etag):
            return Response(304, [(b"etag", etag.encode())], None)
    return None


def _absent_for_if_match(item_id: UUID) -> ProblemError:
    return ProblemError(412, f"item {item_id} does not exist; If-Match cannot hold")


def _not_found(item_id: UUID) -> ProblemError:
    return ProblemError(404, f"no item with id {item_id}")


def _not_yours(item_id: UUID) -> ProblemError:
    return ProblemError(
        403,
        f"item {item_id} belongs to another user; only its owner or an admin may change it",
        slug="not-owner",
    )


def _list_query(request: Request) -> ListQuery:
    return read_query(request, ListQuery, forms=LIST_FORMS, repeatable=LIST_REPEATABLE)
