"""Query functions for `sql/items/`: one per statement, msgspec Structs in and out."""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, Sequence
from datetime import datetime
from typing import NamedTuple, Protocol, cast
from uuid import UUID

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy
from msgspec import UNSET, Struct, UnsetType

from queries.coalesce import PointReads
from queries.keyset import (
    FIRST,
    FIRST_ASCENDING,
    MAX_UUID,
    MIN_UUID,
    NEG_INFINITY,
    POS_INFINITY,
    PageKey,
)
from queries.loader import load
from queries.pool import Executor, fetch_planned_per_execution


class Item(Struct):
    """An item as stored. `metadata` is the jsonb text passed through untouched."""

    id: UUID
    owner_id: UUID | None
    name: str
    description: str | None
    tags: list[str]
    metadata: msgspec.Raw
    created_at: datetime
    updated_at: datetime


class ItemValues(Protocol):
    """The fields a create or a replace writes (api.contracts.items.ItemWrite)."""

    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str | None: ...
    @property
    def tags(self) -> list[str]: ...
    @property
    def metadata(self) -> msgspec.Raw: ...


class BatchValues(ItemValues, Protocol):
    """One item of a bulk upsert (api.contracts.items.BatchItem), its id assigned."""

    @property
    def id(self) -> str | None: ...


class ItemChanges(Protocol):
    """The fields a patch changes, UNSET where it leaves one as it is
    (api.contracts.items.ItemPatch)."""

    @property
    def name(self) -> str | UnsetType: ...
    @property
    def description(self) -> str | UnsetType | None: ...
    @property
    def tags(self) -> list[str] | UnsetType: ...
    @property
    def metadata(self) -> msgspec.Raw | UnsetType: ...


class BatchOutcome(Struct):
    id: UUID
    created: bool


class ItemFilter(Struct, kw_only=True):
    """Search filters; None means "not filtered"."""

    tags_any: list[str] | None = None
    tags_all: list[str] | None = None
    metadata: msgspec.Raw | None = None
    q: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


class ItemPage(Struct):
    """A list or search page. Each item is the JSON of an Item, or of some of its fields, built
    by item_json() or item_fields_json() in the database and passed through untouched (see
    migrations/0010_item_json.sql, 0024_item_fields_json_inline.sql)."""

    items: list[msgspec.Raw]
    next_key: PageKey | None


class _ListedItem(Struct):
    """The fields of a listed item's JSON that make up its page key."""

    id: UUID
    created_at: datetime


_decode_listed = msgspec.json.Decoder(_ListedItem).decode


GET_BY_ID = load("items/get_by_id")
GET_BY_IDS = load("items/get_by_ids")
CREATE = load("items/create")
CREATE_IF_ABSENT = load("items/create_if_absent")
UPSERT = load("items/upsert")
REPLACE = load("items/replace")
PATCH = load("items/patch")
DELETE = load("items/delete")
UPSERT_BATCH = load("items/upsert_batch")
COUNT_OWNED = load("items/count_owned")
LIST_RECENT = load("items/list_recent")
LIST_BY_TAGS_ANY = load("items/list_by_tags_any")
LIST_BY_TAGS_ALL = load("items/list_by_tags_all")
LIST_BY_METADATA = load("items/list_by_metadata")
SEARCH_BY_NAME = load("items/search_by_name")
SEARCH_BY_WORD = load("items/search_by_word")
SEARCH_SORTED = load("items/search_sorted")
LIST_OLDEST = load("items/list_oldest")
LIST_BY_UPDATED_AT = load("items/list_by_updated_at")
LIST_BY_UPDATED_AT_DESC = load("items/list_by_updated_at_desc")
LIST_BY_NAME = load("items/list_by_name")
LIST_BY_NAME_DESC = load("items/list_by_name_desc")
LIST_BY_NAME_DESC_FIRST = load("items/list_by_name_desc_first")
GET_FIELDS_BY_ID = load("items/get_fields_by_id")
COUNT_RECENT = load("items/count_recent")
CREATE_ITEM_IMPORT = load("session/create_item_import")
IMPORT_UPSERT = load("items/import_upsert")
IMPORT_REFUSED = load("items/import_refused")
IMPORT_DUPLICATES = load("items/import_duplicates")
IMPORT_STATEMENT_TIMEOUT = load("session/import_statement_timeout")
ESTIMATE_COUNT = load("items/estimate_count")
COUNT_BY_TAGS_ANY = load("items/count_by_tags_any")
COUNT_BY_TAGS_ALL = load("items/count_by_tags_all")
COUNT_BY_METADATA = load("items/count_by_metadata")
COUNT_BY_WORD = load("items/count_by_word")
COUNT_BY_NAME = load("items/count_by_name")
ESTIMATE_MATCHING = load("items/estimate_matching")

# The statements of the two-field sorts: the name, then a time, the id breaking ties as the time
# does; each reads one index of migration 0023 (docs/api.md#sorting).
_BY_NAME_THEN_TIME = {
    "name,created_at": load("items/list_by_name_created_at"),
    "name,-created_at": load("items/list_by_name_created_at_desc"),
    "-name,created_at": load("items/list_by_name_desc_created_at"),
    "-name,-created_at": load("items/list_by_name_desc_created_at_desc"),
    "name,updated_at": load("items/list_by_name_updated_at"),
    "name,-updated_at": load("items/list_by_name_updated_at_desc"),
    "-name,updated_at": load("items/list_by_name_desc_updated_at"),
    "-name,-updated_at": load("items/list_by_name_desc_updated_at_desc"),
}
# The orders a list may be sorted in (fields, `-` for descending; the id breaks ties as the last
# field does), each read along an index by the statements of list_sorted(). The first is the
# default.
SORTS = (
    "-created_at",
    "created_at",
    "-updated_at",
    "updated_at",
    "-name",
    "name",
    *_BY_NAME_THEN_TIME,
)
DEFAULT_SORT = SORTS[0]
# The fields an item has, in the order its JSON lists them.
FIELDS: tuple[str, ...] = Item.__struct_fields__

_ITEM_COLUMNS = len(Item.__struct_fields__)
_FIRST_SCORE = 2.0  # word_similarity is at most 1


def _item(row: asyncpg.Record) -> Item:
    # Upsert rows carry a trailing `created` column that is not part of the item.
    return Item(*row) if len(row) == _ITEM_COLUMNS else Item(*row[:_ITEM_COLUMNS])


async def get_by_id(db: Executor, item_id: UUID) -> Item | None:
    row = await db.fetchrow(GET_BY_ID, item_id)
    return None if row is None else _item(row)


class ItemFields(NamedTuple):
    """Some fields of an item as JSON, and the item's version (its ETag's)."""

    updated_at: datetime
    json: msgspec.Raw


async def get_fields_by_id(db: Executor, item_id: UUID, fields: list[str]) -> ItemFields | None:
    """The item's `fields` (names of FIELDS, in its order) as JSON built by PostgreSQL."""
    row = await db.fetchrow(GET_FIELDS_BY_ID, item_id, fields)
    return None if row is None else ItemFields(row[0], row[1])


async def count_recent(
    db: Executor, created_after: datetime | None, created_before: datetime | None, most: int
) -> int:
    """How many items were created in the window, counting no more than `most`."""
    count: int = await db.fetchval(
        COUNT_RECENT, created_after or NEG_INFINITY, created_before or POS_INFINITY, most
    )
    return count


async def estimate_count(db: Executor) -> int | None:
    """The planner's estimate of the number of items; None before the first ANALYZE."""
    estimate: int | None = await db.fetchval(ESTIMATE_COUNT)
    return estimate


async def count(db: Executor, where: ItemFilter, most: int) -> int:
    """How many items match `where` (those find() pages through, in any sort): exact when under
    `most`; `most` or more means "at least `most`", as counting stops near there (at most `most`
    entries per tag or similar word). Each filter family has a statement of its own, the WHERE
    of find()'s for that family, read along the same index."""
    window = (where.created_after or NEG_INFINITY, where.created_before or POS_INFINITY)
    if where.q is not None:
        words = search_words(where.q)
        statement, text = (COUNT_BY_WORD, words[0]) if len(words) == 1 else (COUNT_BY_NAME, where.q)
        return await _count_planned_per_execution(
            db, statement, most, *window, text, where.tags_any, where.tags_all, where.metadata
        )
    if where.tags_all is not None:
        return await _count_planned_per_execution(
            db, COUNT_BY_TAGS_ALL, most, *window, where.tags_all, where.tags_any, where.metadata
        )
    if where.metadata is not None:
        return await _count_planned_per_execution(
            db, COUNT_BY_METADATA, most, *window, where.metadata, where.tags_any
        )
    if where.tags_any is not None:
        counted: int = await db.fetchval(COUNT_BY_TAGS_ANY, most, *window, where.tags_any)
        return counted
    return await count_recent(db, *window, most)


async def _count_planned_per_execution(db: Executor, statement: str, *args: object) -> int:
    rows = await fetch_planned_per_execution(db, statement, *args)
    counted: int = rows[0][0]
    return counted


_UNFILTERED = ItemFilter()


class _Plan(Struct):
    rows: float = msgspec.field(name="Plan Rows")


class _Explained(Struct):
    plan: _Plan = msgspec.field(name="Plan")


_decode_explained = msgspec.json.Decoder(list[_Explained]).decode


async def estimate(db: Executor, where: ItemFilter) -> int | None:
    """The planner's estimate of how many items match `where`, from the statistics of the last
    ANALYZE; None where it has none to give: before the first ANALYZE, and for metadata and
    search filters, which the planner guesses at without statistics (a fixed share of the rows;
    the matches of a function)."""
    if where.metadata is not None or where.q is not None:
        return None
    table = await estimate_count(db)
    if table is None or where == _UNFILTERED:
        return table
    return await estimate_matching(db, where)


async def estimate_matching(db: Executor, where: ItemFilter) -> int:
    """The "Plan Rows" of the plan of the list's WHERE for these values (never below 1: the
    planner's least estimate)."""
    plan = await db.fetchval(
        ESTIMATE_MATCHING,
        where.created_after or NEG_INFINITY,
        where.created_before or POS_INFINITY,
        where.tags_any,
        where.tags_all,
    )
    return round(_decode_explained(plan)[0].plan.rows)


async def get_coalesced(reads: PointReads, item_id: UUID) -> Item | None:
    """get_by_id, through point reads of GET_BY_IDS shared with concurrent requests."""
    row = await reads.get(item_id)
    return None if row is None else Item(*row)


async def create(
    db: Executor | PoolConnectionProxy[asyncpg.Record],
    item: ItemValues,
    owner_id: UUID,
    max_items: int,
) -> Item | None:
    """The new item; None, changing nothing, when its owner has `max_items` items already."""
    row = await db.fetchrow(
        CREATE, item.name, item.description, item.tags, item.metadata, owner_id, max_items
    )
    return None if row is None else _item(row)


async def create_if_absent(
    db: Executor, item_id: UUID, item: ItemValues, owner_id: UUID, max_items: int
) -> Item | None:
    """Create the item with this id; None, changing nothing, when an item has the id already or
    its owner has `max_items` items."""
    row = await db.fetchrow(
        CREATE_IF_ABSENT,
        item_id,
        item.name,
        item.description,
        item.tags,
        item.metadata,
        owner_id,
        max_items,
    )
    return None if row is None else _item(row)


async def upsert(
    db: Executor, item_id: UUID, item: ItemValues, caller_id: UUID, is_admin: bool, max_items: int
) -> tuple[Item, bool] | None:
    """Create or replace; (item, created), or None when the item is someone else's, or is new
    and the caller has `max_items` items."""
    row = await db.fetchrow(
        UPSERT,
        item_id,
        item.name,
        item.description,
        item.tags,
        item.metadata,
        caller_id,
        is_admin,
        max_items,
    )
    return None if row is None else (_item(row), row["created"])


async def replace(
    db: Executor,
    item_id: UUID,
    item: ItemValues,
    accepted_versions: list[datetime] | None,
    caller_id: UUID | None,
    is_admin: bool,
) -> Item | None:
    row = await db.fetchrow(
        REPLACE,
        item_id,
        item.name,
        item.description,
        item.tags,
        item.metadata,
        accepted_versions,
        caller_id,
        is_admin,
    )
    return None if row is None else _item(row)


async def patch(
    db: Executor,
    item_id: UUID,
    changes: ItemChanges,
    accepted_versions: list[datetime] | None,
    caller_id: UUID | None,
    is_admin: bool,
) -> Item | None:
    row = await db.fetchrow(
        PATCH,
        item_id,
        None if changes.name is UNSET else changes.name,
        changes.description is not UNSET,
        None if changes.description is UNSET else changes.description,
        None if changes.tags is UNSET else changes.tags,
        None if changes.metadata is UNSET else changes.metadata,
        accepted_versions,
        caller_id,
        is_admin,
    )
    return None if row is None else _item(row)


async def delete(
    db: Executor,
    item_id: UUID,
    caller_id: UUID | None,
    is_admin: bool,
    accepted_versions: list[datetime] | None = None,
) -> bool:
    deleted = await db.fetchval(DELETE, item_id, caller_id, is_admin, accepted_versions)
    return deleted is not None


async def count_owned(
    db: Executor | PoolConnectionProxy[asyncpg.Record], owner_id: UUID | None
) -> int:
    """How many items `owner_id` owns, this transaction's writes included."""
    count: int = await db.fetchval(COUNT_OWNED, owner_id)
    return count


class OverQuota(Exception):
    """The write would give its owner more items than allowed; nothing was written."""


class BatchRefused(Exception):
    """Some items of a batch exist and belong to someone else; nothing was written."""

    def __init__(self, refused_ids: list[UUID]) -> None:
        super().__init__(f"{len(refused_ids)} items belong to another owner")
        self.refused_ids = refused_ids


async def upsert_batch(
    db: Executor | PoolConnectionProxy[asyncpg.Record],
    items: Sequence[BatchValues],
    caller_id: UUID | None,
    is_admin: bool,
    max_items: int,
) -> list[BatchOutcome]:
    """Write every item or none. Every item must carry a distinct id (the caller assigns them).

    Outcomes come back in input order. Rolls back (to a savepoint when `db` is a connection
    inside a transaction already) and raises BatchRefused when some of the items belong to
    someone else, OverQuota when the caller would own more than `max_items` items.
    """
    if isinstance(db, asyncpg.Pool):
        async with db.acquire() as connection:
            return await upsert_batch(connection, items, caller_id, is_admin, max_items)
    payload = msgspec.json.encode(items)
    ids = [UUID(item.id) for item in items if item.id is not None]
    async with db.transaction():
        rows = await db.fetch(UPSERT_BATCH, msgspec.Raw(payload), caller_id, is_admin)
        created = {row["id"]: row["created"] for row in rows}
        if len(created) != len(items):
            raise BatchRefused([item_id for item_id in ids if item_id not in created])
        if any(created.values()) and await count_owned(db, caller_id) > max_items:
            raise OverQuota
    return [BatchOutcome(item_id, created[item_id]) for item_id in ids]


# The columns of the temporary table item_import, in the order import records give them.
IMPORT_COLUMNS = ("line_number", "id", "name", "description", "tags", "metadata")


class ImportRecord(NamedTuple):
    """One item of an import, as COPY writes it into item_import."""

    line_number: int
    id: UUID
    name: str
    description: str | None
    tags: list[str]
    metadata: msgspec.Raw


class ImportOutcome(NamedTuple):
    created: int
    updated: int


async def stage_import(
    connection: PoolConnectionProxy[asyncpg.Record],
    records: AsyncIterable[ImportRecord],
    statement_timeout_ms: int,
) -> None:
    """Copy `records` into a new temporary table item_import, as they come (COPY's binary
    stream: the iterable may read them from a request body), inside the caller's transaction,
    which drops the table when it ends. From here on, the transaction's statements may each take
    `statement_timeout_ms`: the COPY lasts as long as the body takes to arrive, and the write
    (write_import) as long as its items take to write."""
    await connection.execute(IMPORT_STATEMENT_TIMEOUT, str(statement_timeout_ms))
    await connection.execute(CREATE_ITEM_IMPORT)
    await connection.copy_records_to_table("item_import", records=records, columns=IMPORT_COLUMNS)


async def write_import(
    connection: PoolConnectionProxy[asyncpg.Record],
    caller_id: UUID,
    is_admin: bool,
    max_items: int,
    max_reported: int,
) -> ImportOutcome:
    """Write the staged import (stage_import) into items in one statement, all or none, inside
    the caller's transaction.

    Raises ImportRefused with the first `max_reported` (line, id) of items that belong to another
    owner, ImportDuplicates with those (line, id, first line) whose id an earlier line has, and
    OverQuota when the caller would own more than `max_items` items.
    """
    refused = await connection.fetch(IMPORT_REFUSED, caller_id, is_admin, max_reported)
    if refused:
        raise ImportRefused([(row["line_number"], row["id"]) for row in refused])
    try:
        async with connection.transaction():  # a savepoint: the duplicates are read after it
            row = await connection.fetchrow(IMPORT_UPSERT, caller_id, is_admin)
    except asyncpg.CardinalityViolationError:
        duplicates = await connection.fetch(IMPORT_DUPLICATES, max_reported)
        raise ImportDuplicates(
            [(d["line_number"], d["id"], d["first_line"]) for d in duplicates]
        ) from None
    assert row is not None
    outcome = ImportOutcome(row["created"], row["updated"])
    if outcome.created and await count_owned(connection, caller_id) > max_items:
        raise OverQuota
    return outcome


class ImportRefused(Exception):
    def __init__(self, lines: list[tuple[int, UUID]]) -> None:
        super().__init__(f"{len(lines)} lines name items of another owner")
        self.lines = lines


class ImportDuplicates(Exception):
    def __init__(self, lines: list[tuple[int, UUID, int]]) -> None:
        super().__init__(f"{len(lines)} lines repeat an id")
        self.lines = lines


class Window(NamedTuple):
    """The parameters every list statement starts with: $1 to $5."""

    limit: int  # the statement's LIMIT: one more than the page size
    created_after: datetime
    created_before: datetime
    last_position: datetime | float | str
    last_id: UUID


# A list's `fields`: the names of FIELDS to answer, in its order, or None for whole items. Every
# list statement takes it as its last parameter.
Fields = list[str] | None


async def list_recent(db: Executor, window: Window, fields: Fields, max_bytes: int) -> ItemPage:
    return _page(await db.fetch(LIST_RECENT, *window, fields), window.limit, max_bytes)


async def list_by_tags_any(
    db: Executor, window: Window, tags_any: list[str], fields: Fields, max_bytes: int
) -> ItemPage:
    rows = await db.fetch(LIST_BY_TAGS_ANY, *window, tags_any, fields)
    return _page(rows, window.limit, max_bytes)


async def list_by_tags_all(
    db: Executor,
    window: Window,
    tags_all: list[str],
    tags_any: list[str] | None,
    metadata: msgspec.Raw | None,
    fields: Fields,
    max_bytes: int,
) -> ItemPage:
    rows = await fetch_planned_per_execution(
        db, LIST_BY_TAGS_ALL, *window, tags_all, tags_any, metadata, fields
    )
    return _page(rows, window.limit, max_bytes)


async def list_by_metadata(
    db: Executor,
    window: Window,
    metadata: msgspec.Raw,
    tags_any: list[str] | None,
    fields: Fields,
    max_bytes: int,
) -> ItemPage:
    rows = await fetch_planned_per_execution(
        db, LIST_BY_METADATA, *window, metadata, tags_any, fields
    )
    return _page(rows, window.limit, max_bytes)


async def search_by_name(
    db: Executor, window: Window, q: str, where: ItemFilter, fields: Fields, max_bytes: int
) -> ItemPage:
    rows = await fetch_planned_per_execution(
        db, SEARCH_BY_NAME, *window, q, where.tags_any, where.tags_all, where.metadata, fields
    )
    return _page(rows, window.limit, max_bytes)


async def search_by_word(
    db: Executor, window: Window, word: str, where: ItemFilter, fields: Fields, max_bytes: int
) -> ItemPage:
    rows = await fetch_planned_per_execution(
        db, SEARCH_BY_WORD, *window, word, where.tags_any, where.tags_all, where.metadata, fields
    )
    return _page(rows, window.limit, max_bytes)


async def search_sorted(
    db: Executor,
    where: ItemFilter,
    sort: str,
    limit: int,
    after: PageKey | None,
    max_bytes: int,
    fields: Fields = None,
) -> ItemPage:
    """One page of the items the search `where.q` finds (with the same filters), in `sort`'s
    order instead of relevance: every match is read and the page picked from them."""
    assert where.q is not None
    words = search_words(where.q)
    keys = sort.split(",")
    by_name = keys[0].removeprefix("-") == "name"
    time = keys[-1].removeprefix("-")
    name: str | None = None
    at: datetime | None = None
    last_id: UUID | None = None
    if after is not None:
        if len(after) == 3:
            name, at, last_id = after
        elif isinstance(after[0], str):
            name, last_id = after
        else:
            at, last_id = cast(datetime, after[0]), after[1]
    rows = await fetch_planned_per_execution(
        db,
        SEARCH_SORTED,
        limit + 1,
        where.created_after or NEG_INFINITY,
        where.created_before or POS_INFINITY,
        words[0] if len(words) == 1 else where.q,
        len(words) == 1,
        where.tags_any,
        where.tags_all,
        where.metadata,
        (-1 if keys[0][0] == "-" else 1) if by_name else 0,
        None if time == "name" else time,
        -1 if keys[-1][0] == "-" else 1,
        name,
        at,
        last_id,
        fields,
    )
    page = _page(rows, limit + 1, max_bytes)
    key = page.next_key
    if key is not None and len(key) == 3 and len(keys) == 1:  # a one-field sort's key
        row_name, row_at, row_id = key
        page.next_key = (row_name, row_id) if by_name else (row_at, row_id)
    return page


# What item_name_words() splits names into (migration 0014): runs of letters and digits.
_NOT_WORD = re.compile(r"[\W_]+")


def search_words(q: str) -> list[str]:
    """The words of a search text, as item_name_words() splits names; it decides between the
    one-word statement and the one of several words. The statements fold the words themselves
    (search_fold(): case, accents), so a word split differently here is still matched there."""
    return [word for word in _NOT_WORD.split(q.lower()) if word]


async def list_sorted(
    db: Executor,
    where: ItemFilter,
    sort: str,
    limit: int,
    after: PageKey | None,
    max_bytes: int,
    fields: Fields = None,
) -> ItemPage:
    """One page in an order of SORTS other than the default, each along its index. Only the
    oldest-first order takes a filter, the creation window; the caller refuses the others."""
    fetched = limit + 1
    if sort in _BY_NAME_THEN_TIME:
        # A null name: the first page (no text sorts after every name).
        key = after if after is not None else (None, NEG_INFINITY, MIN_UUID)
        rows = await db.fetch(_BY_NAME_THEN_TIME[sort], fetched, *key, fields)
        return _page(rows, fetched, max_bytes)
    assert after is None or len(after) == 2  # the key of a one-field sort
    if sort == "created_at":
        created_at, last_id = after if after is not None else FIRST_ASCENDING
        window = Window(
            fetched,
            where.created_after or NEG_INFINITY,
            where.created_before or POS_INFINITY,
            created_at,
            last_id,
        )
        rows = await db.fetch(LIST_OLDEST, *window, fields)
    elif sort == "updated_at":
        key = after if after is not None else FIRST_ASCENDING
        rows = await db.fetch(LIST_BY_UPDATED_AT, fetched, *key, fields)
    elif sort == "-updated_at":
        key = after if after is not None else FIRST
        rows = await db.fetch(LIST_BY_UPDATED_AT_DESC, fetched, *key, fields)
    elif sort == "name":
        key = after if after is not None else ("", MIN_UUID)
        rows = await db.fetch(LIST_BY_NAME, fetched, *key, fields)
    elif sort == "-name":
        if after is None:
            rows = await db.fetch(LIST_BY_NAME_DESC_FIRST, fetched, fields)
        else:
            rows = await db.fetch(LIST_BY_NAME_DESC, fetched, *after, fields)
    else:
        raise ValueError(f"no statement for sort {sort!r}")
    return _page(rows, fetched, max_bytes)


async def find(
    db: Executor,
    where: ItemFilter,
    limit: int,
    after: PageKey | None,
    max_bytes: int,
    sort: str | None = None,
    fields: Fields = None,
) -> ItemPage:
    """One page of items matching `where`, in a stable order, after the keyset position `after`:
    at most `limit` items, and no more than fit in `max_bytes` of JSON (at least one); each
    item whole, or only its `fields`, built by PostgreSQL.

    The statement is chosen by the most selective indexed filter present, so that each statement's
    driving condition is always set and stays an index condition in its generic plan. Open ends
    of the window and of the keyset are sentinels, never nulls, for the same reason.
    """
    if sort is not None and where.q is not None:
        return await search_sorted(db, where, sort, limit, after, max_bytes, fields)
    if sort is not None and sort != DEFAULT_SORT:
        return await list_sorted(db, where, sort, limit, after, max_bytes, fields)
    assert after is None or len(after) == 2  # the default's and relevance's keys
    after_ = where.created_after or NEG_INFINITY
    before = where.created_before or POS_INFINITY
    # One more row than asked for tells whether a next page exists.
    if where.q is not None:
        score, last_id = after if after is not None else (_FIRST_SCORE, MAX_UUID)
        window = Window(limit + 1, after_, before, score, last_id)
        words = search_words(where.q)
        if len(words) == 1:
            return await search_by_word(db, window, words[0], where, fields, max_bytes)
        return await search_by_name(db, window, where.q, where, fields, max_bytes)
    created_at, last_id = after if after is not None else FIRST
    window = Window(limit + 1, after_, before, created_at, last_id)
    if where.tags_all is not None:
        return await list_by_tags_all(
            db, window, where.tags_all, where.tags_any, where.metadata, fields, max_bytes
        )
    if where.metadata is not None:
        return await list_by_metadata(db, window, where.metadata, where.tags_any, fields, max_bytes)
    if where.tags_any is not None:
        return await list_by_tags_any(db, window, where.tags_any, fields, max_bytes)
    return await list_recent(db, window, fields, max_bytes)


def _page(rows: list[asyncpg.Record], fetched: int, max_bytes: int) -> ItemPage:
    """The first `fetched - 1` rows, or fewer when their JSON array would pass `max_bytes` (but
    at least one), and the key of the last of them when there are more.

    Rows are (position..., id, item JSON): the page key, then the item (whole or its fields).
    The position is the created_at, or the score in search order, the updated_at or name in
    those orders, the name and a time in the two-field sorts. With `fields` the statements send
    the id as a column; without, the id (and a created_at position) are null and read back from
    the last item's JSON, rather than sent as columns of every row of a default page.
    """
    limit = fetched - 1
    size = 1  # "[", then each item and its "," or "]"
    for count, row in enumerate(rows[:limit]):
        size += len(row[-1]) + 1
        if size > max_bytes and count:
            limit = count
            break
    if len(rows) <= limit:
        return ItemPage([row[-1] for row in rows], None)
    *position, last_id, item = rows[limit - 1]
    if last_id is None:
        listed = _decode_listed(item)
        last_id = listed.id
        if position == [None]:
            position = [listed.created_at]
    return ItemPage([row[-1] for row in rows[:limit]], cast(PageKey, (*position, last_id)))
