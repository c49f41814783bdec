"""Bulk import of the RT spreadsheets: valid rows in, every rejected row reported.

Rows are read and checked off the event loop (`import_files`: a thread, or a worker process
for a big file), planned 500 households at a time (`import_plan`) and written one transaction
a batch with Core executemany: each created household and member with its event in the
outbox, in the same transaction, as the handlers do. The handlers themselves would cost a
transaction and several statements per member; a batch costs a handful of statements.

Importing a file twice creates nothing new: an existing No. KK gets only the members it does
not have yet (same NIK, or same name and birth date when the row has no NIK).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from uuid import UUID, uuid4

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.registry import domain, duplicates, handlers, store
from services.registry.domain import Household, Member
from services.registry.import_files import Parsed, parsed_sheet
from services.registry.import_plan import (
    Batch,
    Known,
    Plan,
    Rejection,
    batches,
    carry,
    keys_of,
    plan_batch,
)
from services.registry.import_rows import HouseholdData, Problem
from services.registry.models import (
    households,
    import_reports,
    kk_history,
    members,
    nik_conflicts,
)
from services.registry.publishing import publish
from sinergi.db import chunks, insert_many
from sinergi.outbox import UnitOfWork

RETRIES = 3  # a batch raced by another writer (same No. KK, same household) is planned again

REPORT_HEADER = ("baris", "kolom", "aturan", "alasan", "reason")


@dataclass
class ImportSummary:
    id: UUID
    filename: str
    rows: int = 0
    households_created: int = 0
    members_created: int = 0
    members_existing: int = 0  # already in their household: not added again
    rejected: int = 0  # rows; `rejections` may hold several problems of one row
    nik_conflicts: int = 0
    seconds: float = 0.0
    ignored_columns: list[str] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)

    def add(self, plan: Plan, conflicts: int) -> None:
        batch = plan.batch
        self.rows += batch.rows
        self.rejected += batch.rejected_rows + plan.rejected_rows
        self.rejections += batch.rejections + plan.rejections
        self.households_created += len(plan.new_households)
        self.members_created += len(plan.members)
        self.members_existing += plan.existing
        self.nik_conflicts += conflicts

    def counts(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "filename": self.filename,
            "rows": self.rows,
            "households_created": self.households_created,
            "members_created": self.members_created,
            "members_existing": self.members_existing,
            "rejected": self.rejected,
            "nik_conflicts": self.nik_conflicts,
            "seconds": round(self.seconds, 3),
            "ignored_columns": self.ignored_columns,
        }

    def report_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(REPORT_HEADER)
        for r in sorted(self.rejections, key=lambda r: r.row):
            writer.writerow((r.row, r.column, r.rule, r.pesan, r.message))
        return out.getvalue()


async def _known(conn: AsyncConnection, batch: Batch) -> Known:
    known = Known()
    for chunk in chunks(list(batch.groups)):
        for row in await conn.execute(select(households).where(households.c.no_kk.in_(chunk))):
            known.households[row.no_kk] = Household(**(row._asdict() | {"id": UUID(row.id)}))
    by_id = {str(h.id): h.id for h in known.households.values()}
    for chunk in chunks(list(by_id)):
        found = await conn.execute(
            select(
                members.c.household_id, members.c.nik, members.c.name, members.c.birth_date
            ).where(members.c.household_id.in_(chunk))
        )
        for household_id, nik, name, birth_date in found:
            keys = known.member_keys.setdefault(by_id[household_id], set())
            keys.update(keys_of(nik, name, birth_date))
    niks = sorted({r.member.nik for rows in batch.groups.values() for r in rows if r.member.nik})
    for chunk in chunks(niks):
        held = await conn.scalars(select(members.c.nik).where(members.c.nik.in_(chunk)))
        known.niks.update(held)
    return known


def _household_row(h: Household) -> dict[str, Any]:
    # vars(), not dataclasses.asdict: asdict deep-copies and costs ~10 µs a row.
    return vars(h) | {"id": str(h.id)}


def _member_row(m: Member) -> dict[str, Any]:
    return vars(m) | {
        "id": str(m.id),
        "household_id": str(m.household_id),
        "nik_warnings": list(m.nik_warnings),
    }


async def _write(uow: UnitOfWork, plan: Plan) -> int:
    """One transaction; returns the NIK conflicts recorded."""
    # A NIK no other household lists, and only once in this batch, cannot conflict: those
    # members go in one executemany. The rest are added one by one, in file order, with the
    # handlers' own conflict recording, so the result is what adding them by hand would give.
    seen: dict[str, int] = {}
    for m in plan.members:
        if m.nik:
            seen[m.nik] = seen.get(m.nik, 0) + 1
    held = plan.known.niks
    suspects = {m.id for m in plan.members if m.nik and (m.nik in held or seen[m.nik] > 1)}
    async with uow.begin() as tx:
        if tx.conn.dialect.name == "sqlite":
            # SQLite's default 2 MB page cache thrashes on the random UUID keys of a bulk load;
            # 64 MB (allocated as used) makes the inserts ~40% faster.
            await tx.conn.exec_driver_sql("PRAGMA cache_size = -65536")
        publish(tx, *plan.events)
        conn = tx.conn
        if plan.new_households:
            await insert_many(conn, households, [_household_row(h) for h in plan.new_households])
            await insert_many(
                conn,
                kk_history,
                [
                    {"household_id": str(h.id), "no_kk": h.no_kk, "valid_from": plan.now}
                    | {"reason": "daftar"}
                    for h in plan.new_households
                ],
            )
        for before, after in plan.changed:
            await store.save_household(conn, before, after)
        plain = [_member_row(m) for m in plan.members if m.id not in suspects]
        if plain:
            await insert_many(conn, members, plain)
        for m in plan.members:
            if m.id in suspects:
                await store.insert_member(conn, m)
                await handlers.record_nik_conflicts(tx, m)
        await duplicates.queue_checks(conn, [m.id for m in plan.members])
        if not suspects:
            return 0
        ids = [str(i) for i in suspects]
        count = await conn.scalar(
            select(func.count())
            .select_from(nik_conflicts)
            .where(nik_conflicts.c.member_id.in_(ids))
        )
        return int(count or 0)


async def _prepare(engine: AsyncEngine, batch: Batch, previous: Plan | None) -> Plan:
    """Look up and plan `batch` while `previous` may still be being written."""
    async with engine.connect() as conn:
        known = await _known(conn, batch)
    if previous is not None:
        carry(known, previous)
    return await asyncio.to_thread(plan_batch, batch, known, datetime.now(UTC))


async def _write_retrying(uow: UnitOfWork, engine: AsyncEngine, plan: Plan) -> tuple[Plan, int]:
    """Write `plan`; if another writer raced it (same No. KK, same household), plan again."""
    for attempt in range(1, RETRIES + 1):
        try:
            return plan, await _write(uow, plan)
        except (IntegrityError, domain.Conflict):
            if attempt == RETRIES:
                raise
            plan = await _prepare(engine, plan.batch, None)
    raise AssertionError("unreachable")


async def import_file(
    uow: UnitOfWork,
    engine: AsyncEngine,
    source: Path | IO[bytes],
    *,
    filename: str,
    area: Callable[[HouseholdData], Problem | None] | None = None,
) -> ImportSummary:
    """Import one XLSX or CSV file and keep its report; `FileRejected` if it cannot be read.

    `engine` is the one behind `uow` (look-ups and the report need no outbox). Give a big
    file as a `Path`: it is then read by a worker process, on the other core.
    """
    started = time.perf_counter()
    summary = ImportSummary(id=uuid4(), filename=filename)
    with contextlib.ExitStack() as stack:
        # Opening reads the workbook's shared strings or starts the worker: not in the loop.
        sheet = await asyncio.to_thread(stack.enter_context, parsed_sheet(source, filename))
        summary.ignored_columns = sheet.ignored_columns
        pending = batches(_within(sheet.rows, area))
        reading = asyncio.ensure_future(asyncio.to_thread(next, pending, None))
        writing: asyncio.Future[tuple[Plan, int]] | None = None
        try:
            batch = await reading
            plan = None if batch is None else await _prepare(engine, batch, None)
            while plan is not None:
                # Batch k is written while batch k+1 is read, looked up and planned: the
                # database works (without the GIL) while Python plans.
                writing = asyncio.ensure_future(_write_retrying(uow, engine, plan))
                reading = asyncio.ensure_future(asyncio.to_thread(next, pending, None))
                batch = await reading
                upcoming = None if batch is None else await _prepare(engine, batch, plan)
                written, conflicts = await writing
                if written is not plan and batch is not None:  # planned again: redo k+1
                    upcoming = await _prepare(engine, batch, None)
                summary.add(written, conflicts)
                plan = upcoming
        finally:
            if writing is not None and not writing.done():
                writing.cancel()  # the transaction rolls back
                await asyncio.wait({writing})
            # A thread cannot be cancelled: the reader must finish before its file is closed.
            await asyncio.wait({reading})
            if not reading.cancelled():
                reading.exception()  # retrieved, or asyncio logs it as never retrieved
            await asyncio.to_thread(stack.close)
    summary.seconds = time.perf_counter() - started
    async with engine.begin() as conn:
        await conn.execute(
            insert(import_reports).values(
                id=str(summary.id),
                filename=filename[:255],
                imported_at=datetime.now(UTC),
                summary=summary.counts(),
                report_csv=summary.report_csv(),
            )
        )
    return summary


async def load_report(conn: AsyncConnection, import_id: UUID) -> tuple[dict[str, Any], str]:
    """The stored summary and report CSV of one import; `domain.NotFound` if there is none."""
    row = (
        await conn.execute(
            select(import_reports.c.summary, import_reports.c.report_csv).where(
                import_reports.c.id == str(import_id)
            )
        )
    ).first()
    if row is None:
        raise domain.NotFound("Impor tidak ditemukan (import not found)")
    return dict(row.summary), str(row.report_csv)


def _within(
    rows: Iterator[Parsed], area: Callable[[HouseholdData], Problem | None] | None
) -> Iterator[Parsed]:
    """The rows, those outside the uploader's `area` turned into their problem."""
    for number, parsed in rows:
        problem = None if area is None or isinstance(parsed, list) else area(parsed.household)
        yield (number, [problem]) if problem is not None else (number, parsed)
