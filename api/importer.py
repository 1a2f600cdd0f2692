"""POST /api/v1/items/import: the export's formats read back, all or nothing (docs/api.md,
"Import").

The body is read as it arrives, never whole: its lines (NDJSON) or records (CSV) are decoded and
checked one at a time by the batch endpoint's rules (api.contracts.items: ImportItem, decode,
clean_write) and copied as they come into a temporary table (COPY, queries.items.stage_import);
one statement then writes them all into items (queries.items.write_import). Memory holds a line
and what COPY buffers, whatever the body's size. A bad line stops the copy (nothing will be
written) but not the reading, up to IMPORT_BAD_LINES of them, so that the 422 lists them.

The budget (REQUEST_TIMEOUT_MS) bounds each step, as an export's: the time to each part of the
body, then the write. The COPY and the write may each take up to IMPORT_STATEMENT_TIMEOUT_MS,
not DB_STATEMENT_TIMEOUT_MS: the COPY lasts as long as the body takes to arrive.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Literal
from uuid import uuid4

import msgspec
from blacksheep import Request

from api import budget
from api.contracts.common import parse_uuid
from api.contracts.items import ImportItem, clean_write
from api.export import CSV_HEADER, StreamSlots
from api.http import decode
from api.problems import FieldError, ProblemError
from queries.items import FIELDS, ImportRecord

# The bad lines a refused import lists (the first ones); reading stops past them.
IMPORT_BAD_LINES = 100
# How long an import's COPY (the body's arrival) and its one write may each run (and its
# request wait for the write).
IMPORT_STATEMENT_TIMEOUT_MS = 600_000
# Imports at once, each holding a pool connection: in one worker, and of one user in it.
IMPORTS_PER_WORKER = 2
IMPORTS_PER_PRINCIPAL = 1
# The media types an import reads: the export's.
IMPORT_FORMATS = {"application/x-ndjson": "ndjson", "text/csv": "csv"}
ACCEPT_POST = "application/x-ndjson, text/csv"


def import_slots() -> StreamSlots:
    return StreamSlots(
        "imports",
        IMPORTS_PER_WORKER,
        IMPORTS_PER_PRINCIPAL,
        "IMPORTS_PER_WORKER",
        "IMPORTS_PER_PRINCIPAL",
        user_slug="too-many-imports",
        worker_slug="imports-busy",
    )


def import_format(request: Request) -> str:
    """The body's format by its Content-Type (parameters aside), else 415."""
    value = request.get_first_header(b"content-type") or b""
    media = value.split(b";", 1)[0].strip().lower().decode("latin-1")
    found = IMPORT_FORMATS.get(media)
    if found is None:
        raise ProblemError(
            415,
            f"an import is sent as Content-Type: {' or '.join(IMPORT_FORMATS)}",
            headers={"Accept-Post": ACCEPT_POST},
        )
    return found


class _Complete(msgspec.Struct, forbid_unknown_fields=True):
    export: Literal["complete"]
    count: int


_decode_complete = msgspec.json.Decoder(_Complete).decode
_HEADER = CSV_HEADER.rstrip(b"\r\n").decode()


class ImportReader:
    """An import's body, read as it arrives into ImportRecords; what is wrong with it in `bad`.

    `fingerprint` is fed every byte (the Idempotency-Key's fingerprint); each part of the body
    received moves the request's deadline a budget on."""

    def __init__(
        self,
        request: Request,
        format_: str,
        max_bytes: int,
        max_line: int,
        fingerprint: Any,
        budget_seconds: float,
    ) -> None:
        self.request = request
        self.format = format_
        self.max_bytes = max_bytes
        self.max_line = max_line
        self.fingerprint = fingerprint
        self.budget_seconds = budget_seconds
        self.bad: list[FieldError] = []
        self.bad_lines = 0
        self.bad_line = 0  # the last bad line's number
        self.items = 0
        self._completed_at: int | None = None
        task = asyncio.current_task()
        assert task is not None
        self._task = task

    def records(self) -> AsyncIterator[ImportRecord]:
        return self._ndjson() if self.format == "ndjson" else self._csv()

    def problem(self) -> ProblemError:
        """The 422 of an import with bad lines."""
        more = "at least " if self.bad_lines >= IMPORT_BAD_LINES else ""
        return ProblemError(
            422,
            f"{more}{self.bad_lines} lines are not valid items (the first {len(self.bad)}"
            " errors listed, each at lines[n], n the line's number from 1); nothing was"
            " imported",
            slug="validation-error",
            errors=self.bad,
        )

    # --- lines -----------------------------------------------------------------------------

    async def _lines(self) -> AsyncIterator[tuple[int, bytes | None]]:
        """(number, line without its \\n), or None for a line longer than max_line; reading
        stops once IMPORT_BAD_LINES lines are bad. 413 past max_bytes."""
        buffer = bytearray()
        number = size = 0
        skipping = False
        declared = self.request.get_first_header(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            raise self._too_large()
        async for chunk in self.request.stream():  # type: ignore[attr-defined]
            if not chunk:
                continue
            size += len(chunk)
            if size > self.max_bytes:
                raise self._too_large()
            self.fingerprint.update(chunk)
            budget.extend(self._task, self.request.content, self.budget_seconds)
            start = 0
            while self.bad_lines < IMPORT_BAD_LINES:
                end = chunk.find(b"\n", start)
                if end < 0:
                    if not skipping:
                        buffer += chunk[start:]
                        if len(buffer) > self.max_line:
                            skipping = True
                            buffer.clear()
                    break
                number += 1
                if skipping:
                    line = None
                elif buffer:  # the line began in an earlier chunk
                    buffer += chunk[start:end]
                    line = bytes(buffer)
                    buffer.clear()
                else:
                    line = chunk[start:end]
                yield number, None if line is None or len(line) > self.max_line else line
                skipping = False
                start = end + 1
            if self.bad_lines >= IMPORT_BAD_LINES:
                return
        if buffer or skipping:  # a last line without its \n
            yield number + 1, None if skipping else bytes(buffer)

    def _too_large(self) -> ProblemError:
        return ProblemError(
            413,
            f"an import must not exceed {self.max_bytes} bytes (IMPORT_MAX_BYTES);"
            " nothing was imported",
        )

    def _refuse(self, number: int, field: str, message: str) -> None:
        if not self.bad or self.bad_line != number:
            self.bad_lines += 1
        self.bad_line = number
        if len(self.bad) < IMPORT_BAD_LINES:
            self.bad.append(FieldError(field=field, message=message))

    def _too_long(self, number: int) -> None:
        self._refuse(number, f"lines[{number}]", f"longer than {self.max_line} bytes")

    # --- NDJSON ----------------------------------------------------------------------------

    async def _ndjson(self) -> AsyncIterator[ImportRecord]:
        async for number, line in self._lines():
            if line is None:
                self._too_long(number)
            elif self._completed_at is not None:
                self._refuse(number, f"lines[{number}]", "a line after the completeness line")
            elif line.startswith(b'{"export"'):
                self._complete(number, line)
            else:
                record = self._item(number, line)
                if record is not None and not self.bad:
                    yield record

    def _complete(self, number: int, line: bytes) -> None:
        try:
            count = _decode_complete(line).count
        except msgspec.DecodeError:
            self._refuse(number, f"lines[{number}]", 'not {"export":"complete","count":N}')
            return
        self._completed_at = number
        if count != self.items:
            self._refuse(
                number,
                f"lines[{number}].count",
                f"the export says {count} items; {self.items} lines before it are items",
            )

    def _item(self, number: int, line: bytes) -> ImportRecord | None:
        at = f"lines[{number}]"
        self.items += 1
        if not line.strip():
            self._refuse(number, at, "an empty line")
            return None
        try:
            item = decode(line, ImportItem)
            clean_write(item, at)
        except ProblemError as problem:
            if problem.errors:
                for error in problem.errors:
                    field = error.field
                    field = at + field[1:] if field.startswith("$") else field
                    self._refuse(number, field, error.message)
            else:
                self._refuse(number, at, problem.detail or "not valid JSON")
            return None
        item_id = uuid4() if item.id is None else parse_uuid(item.id)
        return ImportRecord(number, item_id, item.name, item.description, item.tags, item.metadata)

    # --- CSV -------------------------------------------------------------------------------

    async def _csv(self) -> AsyncIterator[ImportRecord]:
        """RFC 4180 records as the export writes them: a header, items, the completeness record.
        A record may span lines (a quoted field holding line breaks): it is whole once its
        quotes are balanced."""
        pending = bytearray()
        first = quotes = 0  # quotes: in pending, counted a line at a time (not quadratic)
        async for number, line in self._lines():
            if line is None:
                self._too_long(number)
                pending.clear()
                quotes = 0
                continue
            if not pending:
                first = number
                pending += line
            else:
                pending += b"\n" + line
            quotes += line.count(b'"')
            if len(pending) > self.max_line:
                self._too_long(first)
                pending.clear()
                quotes = 0
                continue
            if quotes % 2:
                continue  # a quoted field goes on on the next line
            record = bytes(pending[:-1] if pending.endswith(b"\r") else pending)
            pending.clear()
            quotes = 0
            found = self._record(first, record)
            if found is not None and not self.bad:
                yield found
        if pending:
            self._refuse(first, f"lines[{first}]", "a quoted field is not closed")

    def _record(self, number: int, record: bytes) -> ImportRecord | None:
        at = f"lines[{number}]"
        try:
            text = record.decode("utf-8")
        except UnicodeDecodeError:
            self._refuse(number, at, "not valid UTF-8")
            return None
        if number == 1:
            if text != _HEADER:
                self._refuse(number, at, f"the header must be {_HEADER}")
            return None
        if self._completed_at is not None:
            self._refuse(number, at, "a record after the completeness record")
            return None
        fields = csv_fields(text)
        if fields is None or len(fields) != len(FIELDS):
            self._refuse(number, at, f"not an RFC 4180 record of {len(FIELDS)} fields")
            return None
        if fields[0] == "#export":
            count = fields[2]
            if (
                fields[1] != "complete"
                or count is None
                or not (count.isascii() and count.isdigit())  # not "²" (int() refuses it)
                or any(fields[3:])
            ):
                self._refuse(number, at, f"not #export,complete,N{',' * (len(FIELDS) - 3)}")
            else:
                self._completed_at = number
                if int(count) != self.items:
                    self._refuse(
                        number,
                        f"{at}.count",
                        f"the export says {count} items; {self.items} records before it are items",
                    )
            return None
        values = dict(zip(FIELDS, fields, strict=True))
        document: dict[str, Any] = {"name": values["name"], "description": values["description"]}
        if values["id"] is not None:
            document["id"] = values["id"]
        if values["name"] is None:
            del document["name"]
        for name in ("tags", "metadata"):
            raw = values[name]
            if raw is None:
                continue
            try:
                document[name] = msgspec.json.decode(raw, type=msgspec.Raw)
            except msgspec.DecodeError:
                self.items += 1
                self._refuse(number, f"{at}.{name}", "not JSON")
                return None
        return self._item(number, msgspec.json.encode(document))


def csv_fields(record: str) -> list[str | None] | None:
    """The fields of one RFC 4180 record (without its line break): a quoted field's text with its
    doubled quotes made single, an unquoted empty field None (null); None when malformed."""
    fields: list[str | None] = []
    i, n = 0, len(record)
    while True:
        if i < n and record[i] == '"':
            parts = []
            j = i + 1
            while True:
                k = record.find('"', j)
                if k < 0:
                    return None
                parts.append(record[j:k])
                if k + 1 < n and record[k + 1] == '"':
                    parts.append('"')
                    j = k + 2
                    continue
                i = k + 1
                break
            fields.append("".join(parts))
            if i < n and record[i] != ",":
                return None
        else:
            k = record.find(",", i)
            value = record[i:] if k < 0 else record[i:k]
            if '"' in value:
                return None
            fields.append(value or None)
            i = n if k < 0 else k
        if i >= n:
            return fields
        i += 1
