"""`sinergi rebuild timeline`: the case timeline again from JetStream, identical to the live one.

1. Note the stream's first and last sequence. Events after `last` are the live consumer's.
2. Read `sinergi.hh.>` from `first` to `last` with an ordered consumer (ephemeral, push, flow
   controlled, no acks) and build each entry with the live projection's own code
   (`Envelope.from_message` + `domain.timeline_entry`): a message the live consumer cannot
   read is left out here too, and an event id seen twice keeps its first stream position, as
   the live consumer's processed-event ids do.
3. Write the entries into a TEMPORARY table of this connection (no schema change; PostgreSQL
   COPY, SQLite executemany). The live tables are not touched, nor locked, while the stream
   is read, so the service keeps projecting and serving.
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
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from nats.aio.msg import Msg
from nats.js.client import JetStreamContext
from sinergi_contracts import Envelope, EnvelopeError, subjects
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

from services.referrals.domain import TimelineEntry, timeline_entry
from services.referrals.models import timeline_entries
from sinergi.config import Settings
from sinergi.consumer import Delivered
from sinergi.db import create_engine

log = logging.getLogger(__name__)

BATCH: Final = 2_000
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


def entry_of(
    headers: Mapping[str, str] | None, data: bytes, subject: str, stream_seq: int
) -> TimelineEntry | None:
    """The entry the live projection makes of this message, or None where it makes none."""
    try:
        envelope = Envelope.from_message(headers, data)
    except EnvelopeError:
        return None
    return timeline_entry(Delivered(envelope, stream_seq, subject))


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
    async with engine.connect() as conn:
        await conn.execute(CreateTable(staging))  # without its index: that comes after COPY
        await conn.commit()
        try:
            if state.messages:
                events, unreadable = await _read(js, first, last, batch_size, _Writer(conn))
            else:
                events, unreadable = 0, 0
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
        events=events,
        entries=entries,
        unreadable=unreadable,
        removed=removed,
        added=added,
        seconds=time.perf_counter() - started,
        swap_seconds=swap_seconds,
    )


Raw = tuple[Mapping[str, str] | None, bytes, str, int]
_record = operator.attrgetter(*COLUMNS)


class _Writer:
    """Appends entries to the staging table on the bare driver: COPY on PostgreSQL, executemany
    of tuples on SQLite (values converted by the columns' own SQLAlchemy types, so they are
    stored exactly as the live projection's inserts store them)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        dialect = conn.dialect
        self._postgres = dialect.name == "postgresql"
        self._sql = str(insert(staging).compile(dialect=dialect))
        self._convert = [
            (i, convert)
            for i, column in enumerate(staging.columns)
            if (convert := column.type.dialect_impl(dialect).bind_processor(dialect))
        ]

    async def write(self, entries: list[TimelineEntry]) -> None:
        if not entries:
            return
        raw = await self._conn.get_raw_connection()
        driver: Any = raw.driver_connection
        if self._postgres:
            records = [_record(entry) for entry in entries]
            await driver.copy_records_to_table(staging.name, records=records, columns=COLUMNS)
            return
        rows = []
        for entry in entries:
            row = list(_record(entry))
            for i, convert in self._convert:
                row[i] = convert(row[i])
            rows.append(row)
        await driver.executemany(self._sql, rows)
        await driver.commit()


async def _read(
    js: JetStreamContext, first: int, last: int, batch_size: int, writer: _Writer
) -> tuple[int, int]:
    """Read first..last with an ordered consumer, decode, write: three stages that overlap
    (nats-py reads the next batch and this one is decoded while the database writes the one
    before). Returns (events, unreadable)."""
    received: asyncio.Queue[list[Raw] | None] = asyncio.Queue(maxsize=4)
    decoded: asyncio.Queue[list[TimelineEntry] | None] = asyncio.Queue(maxsize=2)
    pending: list[Raw] = []
    finished = False

    async def on_message(msg: Msg) -> None:
        nonlocal pending, finished
        if finished:
            return
        meta = msg.metadata
        seq = meta.sequence.stream
        if seq <= last:
            pending.append((msg.headers, msg.data, msg.subject, seq))
        finished = seq >= last or meta.num_pending == 0
        if len(pending) >= batch_size or finished:
            # A full queue holds this callback, so nats-py holds its flow-control reply and
            # the server stops sending: memory stays bounded by the queues.
            await received.put(pending)
            pending = []
        if finished:
            await received.put(None)

    events = unreadable = 0

    async def decode() -> None:
        nonlocal events, unreadable
        while True:
            try:
                async with asyncio.timeout(IDLE_SECONDS):
                    batch = await received.get()
            except TimeoutError:
                raise RuntimeError(
                    f"stream berhenti mengirim setelah {events} event "
                    f"(the stream stopped delivering after {events} events)"
                ) from None
            if batch is None:
                await decoded.put(None)
                return
            entries = []
            for headers, data, subject, seq in batch:
                entry = entry_of(headers, data, subject, seq)
                if entry is None:
                    unreadable += 1
                else:
                    entries.append(entry)
            events += len(batch)
            await decoded.put(entries)

    async def write() -> None:
        while (entries := await decoded.get()) is not None:
            await writer.write(entries)

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
    if unreadable:
        log.warning(
            "pesan tak terbaca dilewati, seperti consumer langsung (unreadable messages skipped, "
            "as the live consumer does)",
            extra={"unreadable": unreadable},
        )
    return events, unreadable


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
