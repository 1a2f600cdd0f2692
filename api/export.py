"""GET /api/v1/items/export: every item a list would show, in one answer streamed from one
snapshot (docs/api.md, "Export").

The items are read as the list reads them (queries.items.find, the same statements and indexes),
EXPORT_CHUNK_ITEMS at a time along the keyset, inside one REPEATABLE READ READ ONLY transaction:
every chunk sees the same snapshot, and each statement is as short as a page, so that the
statement timeout and the plans `sql check` proves hold as for a list. The next chunk is read
while the last is encoded and sent, so that PostgreSQL and the service work at once, and no
further: a chunk is read only once the one before it was handed to the transport (uvicorn's send
waits while the transport is above its high-water mark), so memory holds two or three chunks
whatever the export's size.

The request budget (REQUEST_TIMEOUT_MS) bounds the time to the first chunk, and then each step:
a chunk fetched, or handed to a client that takes it. After each, the deadline moves to a budget
from then (api.budget.extend). Past it, or when the client goes, the budget's timer cancels the
task: the statement is cancelled in PostgreSQL, the transaction rolls back, the connection is
aborted, and the answer lacks its last line, the completeness signal.

Each export holds a pool connection for its whole duration: at most EXPORTS_PER_WORKER run at
once in a worker (503 past it), and EXPORTS_PER_PRINCIPAL of one user (429 past it).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import re
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, cast

import asyncpg
import msgspec
from blacksheep import Request

from api import budget
from api.contracts.items import EXPORT_FORMATS
from api.logs import get_logger
from api.problems import RETRY_AFTER, ProblemError, invalid
from queries import items
from queries.items import FIELDS, ItemFilter, ItemPage
from queries.keyset import PageKey

# Items per chunk (one statement), and the most bytes of item JSON a chunk holds (fewer items
# past it, at least one).
EXPORT_CHUNK_ITEMS = 1000
EXPORT_CHUNK_BYTES = 1024 * 1024
# Exports at once, each holding a pool connection: in one worker, and of one user in it.
EXPORTS_PER_WORKER = 4
EXPORTS_PER_PRINCIPAL = 2

_log = get_logger("api.export")


class StreamSlots:
    """Long requests in progress in this worker (exports, imports), by user, each holding a pool
    connection: at most `per_worker` at once (503 past it), `per_principal` of one user (429)."""

    def __init__(
        self,
        what: str,
        per_worker: int,
        per_principal: int,
        worker_setting: str,
        principal_setting: str,
        *,
        user_slug: str,
        worker_slug: str,
    ) -> None:
        self.what = what
        self.user_slug = user_slug
        self.worker_slug = worker_slug
        self.per_worker = per_worker
        self.per_principal = per_principal
        self.worker_setting = worker_setting
        self.principal_setting = principal_setting
        self.held: dict[str, int] = {}

    def take(self, user: str) -> None:
        if self.held.get(user, 0) >= self.per_principal:
            raise ProblemError(
                429,
                f"this user has {self.per_principal} {self.what} in progress already"
                f" ({self.principal_setting}); retry when one of them has ended",
                slug=self.user_slug,
                headers=RETRY_AFTER,
            )
        if sum(self.held.values()) >= self.per_worker:
            raise ProblemError(
                503,
                f"this worker runs {self.per_worker} {self.what} already"
                f" ({self.worker_setting}); retry",
                slug=self.worker_slug,
                headers=RETRY_AFTER,
            )
        self.held[user] = self.held.get(user, 0) + 1

    def give_back(self, user: str) -> None:
        held = self.held[user] - 1
        if held:
            self.held[user] = held
        else:
            del self.held[user]


def export_slots() -> StreamSlots:
    return StreamSlots(
        "exports",
        EXPORTS_PER_WORKER,
        EXPORTS_PER_PRINCIPAL,
        "EXPORTS_PER_WORKER",
        "EXPORTS_PER_PRINCIPAL",
        user_slug="too-many-exports",
        worker_slug="exports-busy",
    )


# RFC 9110 section 12.4.2: 0 to 1, at most three decimals (not nan, inf, 2 or -1).
QVALUE = re.compile(r"0(\.[0-9]{0,3})?|1(\.0{0,3})?")


def export_format(request: Request, given: str | None) -> str:
    """The format asked for: `format=`, else the Accept header's best of the two media types
    (q-values, the more specific range first; NDJSON on a tie or without Accept); 406 when Accept
    takes neither."""
    if given is not None:
        return given
    accept = b",".join(request.get_headers(b"accept")).decode("latin-1")
    if not accept.strip():
        return "ndjson"
    best, best_q = "ndjson", -1.0
    for name, (media, _) in EXPORT_FORMATS.items():
        kind = media.split("/")[0]
        q = _quality(accept, media, kind)
        if q > best_q:
            best, best_q = name, q
    if best_q <= 0:
        raise ProblemError(
            406,
            "Accept takes neither application/x-ndjson nor text/csv, the formats of an export",
            slug="not-acceptable",
            headers={"Vary": "Accept"},  # a cache must not give it to another Accept
        )
    return best


def _quality(accept: str, media: str, kind: str) -> float:
    """The q-value Accept gives `media`: its most specific matching range's (RFC 9110
    section 12.5.1), 0 when none matches."""
    found, rank = 0.0, -1
    for part in accept.split(","):
        range_, *params = (piece.strip() for piece in part.split(";"))
        range_ = range_.lower()
        if range_ == media:
            specificity = 2
        elif range_ == f"{kind}/*":
            specificity = 1
        elif range_ == "*/*":
            specificity = 0
        else:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                if not QVALUE.fullmatch(value.strip()):
                    raise invalid("header.accept", f"bad q-value {value.strip()!r}")
                q = float(value)
        if specificity > rank:
            found, rank = q, specificity
    return found


class _Row(msgspec.Struct):
    """An item's JSON as the API writes it, each field kept as text: tags and metadata as their
    JSON, the dates as the JSON writes them."""

    id: str
    owner_id: str | None
    name: str
    description: str | None
    tags: msgspec.Raw
    metadata: msgspec.Raw
    created_at: str
    updated_at: str


_decode_row = msgspec.json.Decoder(_Row).decode
_QUOTED = re.compile(r'[,"\r\n]')


def csv_field(value: str | None) -> str:
    """One field of RFC 4180: quoted (its quotes doubled) when it holds a comma, a quote, CR or
    LF, or is empty; null is the empty unquoted field, as PostgreSQL's COPY … CSV writes it."""
    if value is None:
        return ""
    if not value or _QUOTED.search(value):
        return '"' + value.replace('"', '""') + '"'
    return value


CSV_HEADER = ",".join(FIELDS).encode() + b"\r\n"


def csv_line(item: msgspec.Raw) -> str:
    row = _decode_row(item)
    # The ids and the dates (a UUID, RFC 3339) hold nothing CSV quotes, and are never empty.
    return (
        f"{row.id},{row.owner_id or ''},{csv_field(row.name)},{csv_field(row.description)},"
        f"{csv_field(bytes(row.tags).decode())},{csv_field(bytes(row.metadata).decode())},"
        f"{row.created_at},{row.updated_at}\r\n"
    )


def completeness(format_: str, count: int) -> bytes:
    """The last line of a complete export of `count` items (docs/api.md, "Export")."""
    if format_ == "csv":
        return f"#export,complete,{count}{',' * (len(FIELDS) - 3)}\r\n".encode()
    return b'{"export":"complete","count":%d}\n' % count


def _encode(format_: str, chunk: list[msgspec.Raw]) -> bytes:
    if format_ == "csv":
        return "".join([csv_line(item) for item in chunk]).encode()
    return b"\n".join(chunk) + b"\n" if chunk else b""


async def _chunks(
    pool: asyncpg.Pool,
    where: ItemFilter,
    sort: str | None,
    format_: str,
    slots: StreamSlots,
    user: str,
    counted: list[int],
) -> AsyncGenerator[bytes, None]:
    """The export's bytes, a chunk of items at a time, read in one snapshot; the first chunk
    carries the CSV header, the last the completeness line. Gives the user's slot back when it
    ends, however it ends (garbage collection closes one never iterated to its end)."""
    try:
        async with pool.acquire() as proxy:
            connection = cast(asyncpg.Connection, proxy)
            async with connection.transaction(isolation="repeatable_read", readonly=True):

                def read(after: PageKey | None) -> asyncio.Task[ItemPage]:
                    return asyncio.ensure_future(
                        items.find(
                            connection, where, EXPORT_CHUNK_ITEMS, after, EXPORT_CHUNK_BYTES, sort
                        )
                    )

                head = CSV_HEADER if format_ == "csv" else b""
                reading = read(None)
                try:
                    while True:
                        page = await reading
                        if page.next_key is not None:
                            reading = read(page.next_key)  # while this one is encoded and sent
                        counted[0] += len(page.items)
                        body = head + _encode(format_, page.items)
                        head = b""
                        if page.next_key is None:
                            counted[1] = 1
                            yield body + completeness(format_, counted[0])
                            return
                        yield body
                finally:
                    # Ended early (the client left, the budget, an error): the read in progress
                    # is cancelled in PostgreSQL before the transaction ends, and its outcome
                    # taken (its error, if any, belongs to an export that ended anyway).
                    reading.cancel()
                    with contextlib.suppress(Exception, asyncio.CancelledError):
                        await reading
    finally:
        slots.give_back(user)


async def open_export(
    request: Request,
    pool: asyncpg.Pool,
    where: ItemFilter,
    sort: str | None,
    format_: str,
    slots: StreamSlots,
    user: str,
    budget_seconds: float,
) -> Any:
    """The body of an export as BlackSheep's StreamedContent takes it (an async generator
    function), once its first chunk is read: until then, within the request's budget, any error
    is answered as for any request (a problem document); after, an error ends the stream."""
    slots.take(user)
    counted = [0, 0]  # the items read; 1 once the completeness line is
    chunks = _chunks(pool, where, sort, format_, slots, user, counted)
    try:
        first = await chunks.__anext__()
    except BaseException:
        await chunks.aclose()
        raise
    task = asyncio.current_task()
    assert task is not None
    content = request.content
    # The request's context (its log fields, the statement log of the tests): the middleware
    # leaves it when the handler returns, before the body is sent.
    context = contextvars.copy_context()

    async def body() -> AsyncIterator[bytes]:
        ended = "complete"
        try:
            budget.extend(task, content, budget_seconds)
            yield first
            async for chunk in _progress(chunks, task, content, budget_seconds, context):
                yield chunk
            if not counted[1] or budget.client_gone(content):
                ended = "connection closed"  # by the client, or cut short by the protocol
        except asyncio.CancelledError:
            reason = budget.cancelled_by_budget()
            if reason is None:
                raise
            ended = reason
            budget.finish(task)  # before anything awaits: the timer cancels it no more
            budget.abort_connection(content)
        except Exception as error:  # the answer has begun: it can only be cut short
            ended = "error"
            _log.error("export failed", error=repr(error))
            budget.abort_connection(content)
        finally:
            budget.finish(task)
            await chunks.aclose()
            _log.info("export ended", ended=ended, items=counted[0], format=format_)

    return body


async def _progress(
    chunks: AsyncIterator[bytes],
    task: asyncio.Task[Any],
    content: Any,
    seconds: float,
    context: contextvars.Context,
) -> AsyncIterator[bytes]:
    """The chunks after the first, each fetched and then sent within `seconds` of the step before
    (api.budget.extend), while the client is there. Each is fetched in a task of the request's
    `context`, which a cancellation of `task` (by the budget) cancels too."""

    async def fetch() -> bytes | None:
        try:
            return await chunks.__anext__()
        except StopAsyncIteration:
            return None

    while not budget.client_gone(content):
        budget.extend(task, content, seconds)
        chunk = await asyncio.create_task(fetch(), context=context)
        if chunk is None:
            return
        budget.extend(task, content, seconds)
        yield chunk
