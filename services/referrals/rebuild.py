"""`sinergi rebuild timeline`: the case timeline again from JetStream, identical to the live one.

1. Note the stream's first and last sequence. Events after `last` are the live consumer's.
2. Read `sinergi.hh.>` from `first` to `last` with an ordered consumer (ephemeral, push, flow
   controlled, no acks) and build each entry as the live projection does
   (`Envelope.from_message` + `domain.timeline_entry`): a message the live consumer cannot
   read is left out here too, and an event id seen twice keeps its first stream position, as
   the live consumer's processed-event ids do. The common message takes a shorter road to the
   same entry (`row_of`); anything unusual goes the live projection's own way.
3. Write the entries into a TEMPORARY table of this connection (no schema change; PostgreSQL
   COPY, SQLite INSERTs of many rows each). The live tables are not touched, nor locked, while
   the stream is read, so the service keeps projecting and serving.
4. Swap in one short transaction (PostgreSQL: SHARE ROW EXCLUSIVE lock, which waits for and
   holds off the live consumer's inserts but not readers; SQLite: its one writer): delete
   the stored entries in [first, last] that are not exactly as rebuilt, insert the rebuilt
   ones that are missing. Entries after `last` (projected live meanwhile) and before `first`
   (no longer in the stream) stay.

The race with the live consumer: it may be behind the rebuild, so it will later project
events the rebuild already wrote. Its insert is INSERT … ON CONFLICT (event_id) DO NOTHING
(`handlers.insert_if_absent`): the entry already there is the same entry, nothing doubles and
the batch is not dead-lettered. An entry it projected while the stream was read is compared
like any other and, being the same, kept. Readers see the old timeline until the swap commits,
then the new one — never a half-built one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import operator
import re
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from typing import Any, Final

import nats.aio.client
from nats.aio.msg import Msg
from nats.js.client import JetStreamContext
from pydantic import ValidationError
from sinergi_contracts import Envelope, EnvelopeError, subjects
from sinergi_contracts.envelope import SPECVERSION, TRACEPARENT_HEADER
from sinergi_contracts.events import EVENT_TYPES
from sqlalchemy import (
    Column,
    Index,
    MetaData,
    Table,
    and_,
    delete,
    exists,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.schema import CreateIndex, CreateTable, DropTable

from services.referrals.domain import TimelineEntry, timeline_entry, trace_id_of
from services.referrals.models import timeline_entries
from sinergi.config import Settings
from sinergi.consumer import Delivered
from sinergi.db import chunks, create_engine

log = logging.getLogger(__name__)

BATCH: Final = 2_000
# Rows per SQLite INSERT: 9 columns each, within SQLite's 32,766 variables a statement.
SQLITE_ROWS: Final = 32_766 // len(timeline_entries.columns)
IDLE_SECONDS: Final = 30.0
COLUMNS: Final = tuple(c.name for c in timeline_entries.columns)

_staging_metadata = MetaData()
staging = Table(
    "timeline_rebuild",
    _staging_metadata,
    *(Column(c.name, c.type, nullable=c.nullable) for c in timeline_entries.columns),
    prefixes=["TEMPORARY"],
)
_staging_index = Index("ix_timeline_rebuild_event", staging.c.event_id)


@dataclass(frozen=True)
class Rebuilt:
    first_seq: int
    last_seq: int
    events: int  # messages read from the stream, first_seq..last_seq
    entries: int  # timeline entries they make (unreadable messages and repeated ids left out)
    unreadable: int
    removed: int  # stored entries that were not as rebuilt (or whose event is not in the stream)
    added: int  # rebuilt entries that were missing (or replace a removed one)
    seconds: float
    swap_seconds: float  # the one transaction that replaces the live timeline (its lock)

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def describe(self) -> str:
        return (
            f"linimasa dibangun ulang (timeline rebuilt): {self.events:,} event "
            f"(stream_seq {self.first_seq}..{self.last_seq}), {self.entries:,} entri, "
            f"{self.unreadable} tak terbaca (unreadable); {self.removed:,} dihapus (removed), "
            f"{self.added:,} ditambah (added); {self.seconds:.1f} s "
            f"(tukar/swap {self.swap_seconds:.2f} s), {self.per_second:,.0f} event/s"
        )


Row = tuple[Any, ...]  # a TimelineEntry's values in COLUMNS order
_record = operator.attrgetter(*COLUMNS)


def entry_of(
    headers: Mapping[str, str] | None, data: bytes, subject: str, stream_seq: int
) -> TimelineEntry | None:
    """The entry the live projection makes of this message, or None where it makes none."""
    try:
        envelope = Envelope.from_message(headers, data)
    except EnvelopeError:
        return None
    return timeline_entry(Delivered(envelope, stream_seq, subject))


def row_of(
    headers: Mapping[str, str] | None, data: bytes, subject: str, stream_seq: int
) -> Row | None:
    """`entry_of` as a row: by the short road when the message is an ordinary one, otherwise by
    the live projection's own code."""
    row = _ordinary_row(headers, data, subject, stream_seq)
    if row is not None:
        return row
    entry = entry_of(headers, data, subject, stream_seq)
    return None if entry is None else _record(entry)


def _ordinary_row(
    headers: Mapping[str, str] | None, data: bytes, subject: str, stream_seq: int
) -> Row | None:
    """The row of a message with every header present, none percent-encoded, a known type, an
    RFC 3339 time and valid data; None for any other message (not: "unreadable").

    Each value is what `Envelope.from_message` + `timeline_entry` compute, minus their cost
    for this case: percent-decoding a value without "%" returns it unchanged, and the entry is
    not built as two frozen dataclasses first. The data is validated and serialised by the
    event's own model, as the live projection does; that part cannot be shortened.
    """
    if headers is None:
        return None
    try:
        specversion = headers["ce-specversion"]
        event_id = headers["ce-id"]
        source = headers["ce-source"]
        ce_type = headers["ce-type"]
        ce_time = headers["ce-time"]
        headers["ce-subject"]  # must be there; the entry's subject is the NATS subject
    except KeyError:
        return None
    if specversion != SPECVERSION or "%" in event_id or "%" in source or "%" in ce_type:
        return None
    event_class = EVENT_TYPES.get(ce_type)
    if event_class is None or "%" in ce_time:
        return None
    try:
        occurred_at = datetime.fromisoformat(ce_time)
        event = event_class.model_validate_json(data)
    except (ValueError, ValidationError):  # ValidationError is a ValueError: listed to be plain
        return None
    return (
        event_id,
        str(event.household_id),
        stream_seq,
        ce_type,
        source,
        subject,
        occurred_at,
        trace_id_of(headers.get(TRACEPARENT_HEADER)),
        event.model_dump_json(),
    )


async def rebuild_timeline(
    settings: Settings, js: JetStreamContext, *, batch_size: int = BATCH
) -> Rebuilt:
    """Rebuild the referrals service's timeline (its database from `settings`) from `js`."""
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    try:
        return await rebuild_into(engine, js, batch_size=batch_size)
    finally:
        await engine.dispose()


async def rebuild_into(
    engine: AsyncEngine, js: JetStreamContext, *, batch_size: int = BATCH
) -> Rebuilt:
    started = time.perf_counter()
    state = (await js.stream_info(subjects.EVENTS_STREAM)).state
    first, last = state.first_seq, state.last_seq
    async with engine.connect() as conn, _larger_sqlite_cache(conn):
        await conn.execute(CreateTable(staging))  # without its index: that comes after COPY
        await conn.commit()
        try:
            if state.messages:
                read = await _read(js, first, last, batch_size, _Writer(conn))
            else:
                read = _Decoder()
            entries = await _prepare(conn)
            swap_started = time.perf_counter()
            removed, added = await _swap(conn, first, last)
            swap_seconds = time.perf_counter() - swap_started
        finally:
            with contextlib.suppress(Exception):
                await conn.rollback()
                await conn.execute(DropTable(staging))
                await conn.commit()
    return Rebuilt(
        first_seq=first,
        last_seq=last,
        events=read.events,
        entries=entries,
        unreadable=read.unreadable,
        removed=removed,
        added=added,
        seconds=time.perf_counter() - started,
        swap_seconds=swap_seconds,
    )


# The swap inserts every entry into the timeline's indexes in one statement; with SQLite's
# default 2 MiB page cache it re-reads index pages all along (measured: a 64 MiB cache makes
# the swap of 200,000 entries 15-35% faster). For this connection only, and put back after.
SQLITE_CACHE_KIB: Final = 65_536


@contextlib.asynccontextmanager
async def _larger_sqlite_cache(conn: AsyncConnection) -> AsyncIterator[None]:
    if conn.dialect.name != "sqlite":
        yield
        return
    before = (await conn.exec_driver_sql("PRAGMA cache_size")).scalar()
    await conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            await conn.exec_driver_sql(f"PRAGMA cache_size = {int(before or 0)}")


Raw = tuple[Mapping[str, str] | None, bytes, str, int]


class _Decoder:
    """Rows of the messages, and their counts; a message the live projection cannot read is
    left out. (Repeated event ids are left out in the staging table, `_prepare`: a set of every
    id here would grow with the stream.)"""

    def __init__(self) -> None:
        self.events = 0
        self.unreadable = 0

    def rows(self, batch: list[Raw]) -> list[Row]:
        rows = [row for row in (row_of(*message) for message in batch) if row is not None]
        self.events += len(batch)
        self.unreadable += len(batch) - len(rows)
        return rows


class _Writer:
    """Appends rows to the staging table on the bare driver: COPY on PostgreSQL; on SQLite one
    INSERT of many VALUES rows (values converted by the columns' own SQLAlchemy types, so they
    are stored exactly as the live projection's inserts store them)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        dialect = conn.dialect
        self._postgres = dialect.name == "postgresql"
        one_row = str(insert(staging).compile(dialect=dialect))
        self._insert, self._values = one_row.split(" VALUES ")
        self._statements: dict[int, str] = {}
        self._convert = [
            (i, convert)
            for i, column in enumerate(staging.columns)
            if (convert := column.type.dialect_impl(dialect).bind_processor(dialect))
        ]

    async def write(self, rows: list[Row]) -> None:
        if not rows:
            return
        raw = await self._conn.get_raw_connection()
        driver: Any = raw.driver_connection
        if self._postgres:
            await driver.copy_records_to_table(staging.name, records=rows, columns=COLUMNS)
            return
        for part in chunks(rows, SQLITE_ROWS):
            await driver.execute(self._statement(len(part)), self._parameters(part))
        await driver.commit()

    def _statement(self, rows: int) -> str:
        # One statement, not executemany: sqlite3 releases and retakes the GIL around every
        # row's step, and each retake waits out the event loop thread's switch interval
        # (measured: 100,000 rows beside a busy loop took half the time this way).
        if rows not in self._statements:
            self._statements[rows] = f"{self._insert} VALUES {', '.join([self._values] * rows)}"
        return self._statements[rows]

    def _parameters(self, rows: Sequence[Row]) -> list[Any]:
        if not self._convert:
            return list(chain.from_iterable(rows))
        # Column by column: map runs each converter over a column in C.
        columns = list(zip(*rows, strict=True))
        for i, convert in self._convert:
            columns[i] = tuple(map(convert, columns[i]))
        return list(chain.from_iterable(zip(*columns, strict=True)))


def _position(msg: Msg) -> tuple[int, int]:
    """(stream sequence, messages pending) from the reply subject.

    The usual reply, "$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.
    <time>.<pending>", is split here; nats-py's `msg.metadata` builds a datetime and three
    frozen dataclasses per message, a fifth of the reading time. Other forms go to it.
    """
    tokens = msg.reply.split(".")
    if len(tokens) == 9 and tokens[0] == "$JS" and tokens[1] == "ACK":
        return int(tokens[5]), int(tokens[8])
    meta = msg.metadata
    return meta.sequence.stream, meta.num_pending


async def _read(
    js: JetStreamContext, first: int, last: int, batch_size: int, writer: _Writer
) -> _Decoder:
    """Read first..last with an ordered consumer, decode, write: three stages that overlap
    (nats-py reads the next batch and this one is decoded while the database writes the one
    before). Returns the decoder with its counts."""
    received: asyncio.Queue[list[Raw] | None] = asyncio.Queue(maxsize=4)
    decoded: asyncio.Queue[list[Row] | None] = asyncio.Queue(maxsize=2)
    pending: list[Raw] = []
    finished = False

    async def on_message(msg: Msg) -> None:
        nonlocal pending, finished
        if finished:
            return
        seq, left = _position(msg)
        if seq <= last:
            pending.append((msg.headers, msg.data, msg.subject, seq))
        finished = seq >= last or left == 0
        if len(pending) >= batch_size or finished:
            # A full queue holds this callback, so nats-py holds its flow-control reply and
            # the server stops sending: memory stays bounded by the queues.
            await received.put(pending)
            pending = []
        if finished:
            await received.put(None)

    decoder = _Decoder()

    async def decode() -> None:
        while True:
            try:
                async with asyncio.timeout(IDLE_SECONDS):
                    batch = await received.get()
            except TimeoutError:
                raise RuntimeError(
                    f"stream berhenti mengirim setelah {decoder.events} event "
                    f"(the stream stopped delivering after {decoder.events} events)"
                ) from None
            if batch is None:
                await decoded.put(None)
                return
            await decoded.put(decoder.rows(batch))

    async def write() -> None:
        while (rows := await decoded.get()) is not None:
            await writer.write(rows)

    with plain_headers_parsed_quickly(js):
        subscription = await js.subscribe(
            f"{subjects.PREFIX}.hh.>",
            stream=subjects.EVENTS_STREAM,
            ordered_consumer=True,
            cb=on_message,
        )
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(decode(), name="rebuild-decode")
                group.create_task(write(), name="rebuild-write")
        finally:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
    if decoder.unreadable:
        log.warning(
            "pesan tak terbaca dilewati, seperti consumer langsung (unreadable messages skipped, "
            "as the live consumer does)",
            extra={"unreadable": decoder.unreadable},
        )
    return decoder


# --- message headers, parsed as nats-py parses them, faster -------------------------------

# nats-py 2.16 tests every header name for whitespace character by character with a Python
# generator: ~15 µs of a message's ~35 µs of reading. A header block of plain lines
# ("Name: value", no whitespace in either, printable ASCII) parses to the same dict with two
# regular expressions; any other block goes to nats-py's own parser. Proven equal, and only
# for the nats-py version it was proven for, in tests/unit/test_rebuild_decode.py.
NATS_PY_CHECKED: Final = "2.16.0"
_PLAIN_BLOCK = re.compile(r"(?:[!-9;-~]+: [!-~]*\r\n)*(?:\r\n)*")
_PLAIN_LINE = re.compile(r"([!-9;-~]+): ([!-~]*)\r\n")
_library_parse = nats.aio.client.Client._parse_header_lines


def parse_header_lines(raw: bytes) -> dict[str, str]:
    """What `nats.aio.client.Client._parse_header_lines(raw)` returns."""
    block = raw.decode("latin-1")  # never fails; a plain block is ASCII, decoded alike by all
    if _PLAIN_BLOCK.fullmatch(block):
        return dict(_PLAIN_LINE.findall(block))
    return _library_parse(raw)


@contextlib.contextmanager
def plain_headers_parsed_quickly(js: JetStreamContext) -> Iterator[None]:
    """`parse_header_lines` on this connection while the rebuild reads (an attribute of the
    client object, which nats-py calls as `self._parse_header_lines`)."""
    client = getattr(js, "_nc", None)
    if (
        nats.aio.client.__version__ != NATS_PY_CHECKED
        or not isinstance(client, nats.aio.client.Client)
        or "_parse_header_lines" in vars(client)
    ):
        yield
        return
    client._parse_header_lines = parse_header_lines  # type: ignore[method-assign]
    try:
        yield
    finally:
        with contextlib.suppress(AttributeError):
            del client._parse_header_lines


async def _prepare(conn: AsyncConnection) -> int:
    """Index the staging table by event id and keep each id's first stream position."""
    await conn.execute(CreateIndex(_staging_index))
    earlier = staging.alias("earlier")
    await conn.execute(
        delete(staging).where(
            exists().where(
                earlier.c.event_id == staging.c.event_id,
                earlier.c.stream_seq < staging.c.stream_seq,
            )
        )
    )
    if conn.dialect.name == "postgresql":
        await conn.execute(text(f"ANALYZE {staging.name}"))
    count = await conn.scalar(select(func.count()).select_from(staging))
    await conn.commit()
    return int(count or 0)


async def _swap(conn: AsyncConnection, first: int, last: int) -> tuple[int, int]:
    """In one transaction: remove stored entries in [first, last] unlike the rebuilt ones, add
    the rebuilt ones missing. Returns (removed, added)."""
    t, r = timeline_entries.c, staging.c
    if conn.dialect.name == "postgresql":
        table = conn.dialect.identifier_preparer.format_table(timeline_entries)
        await conn.execute(text(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))
    same = exists().where(
        r.event_id == t.event_id,
        r.household_id == t.household_id,
        r.stream_seq == t.stream_seq,
        r.type == t.type,
        r.source == t.source,
        r.subject == t.subject,
        r.occurred_at == t.occurred_at,
        r.trace_id.is_not_distinct_from(t.trace_id),
        r.data == t.data,
    )
    removed = await conn.execute(
        delete(timeline_entries).where(and_(t.stream_seq >= first, t.stream_seq <= last), ~same)
    )
    stored = exists().where(t.event_id == r.event_id)
    added = await conn.execute(
        insert(timeline_entries).from_select(
            list(COLUMNS), select(*(r[name] for name in COLUMNS)).where(~stored)
        )
    )
    await conn.commit()
    return int(removed.rowcount or 0), int(added.rowcount or 0)
