"""`sinergi demo`: synthetic Bontang households (demo.py) loaded the way field data arrives.

The households and members go in through the bulk import, as an RT's spreadsheet would; then
each household is assessed against the city's ruleset and its under-fives' measurements are
recorded, with the registry's own use cases (`assessing.assess_in`, `handlers.measure`), a
few hundred households a transaction. Every change is an event in the outbox, as in the
field. Running it again with the same seed adds nothing: the import knows its households,
and households already assessed or measured are left alone.
"""

from __future__ import annotations

import tempfile
import time
import zlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.registry import demo, domain, handlers
from services.registry.assessing import assess_in
from services.registry.demo import DemoData, DemoHousehold
from services.registry.imports import ImportSummary, import_file
from services.registry.models import assessments, households, measurements, members
from sinergi.db import chunks
from sinergi.outbox import Transaction, UnitOfWork

BATCH = 250  # households per transaction


@dataclass
class DemoReport:
    households: int
    imported: ImportSummary
    assessed: int = 0
    measured: int = 0
    verified: int = 0
    skipped_measurements: list[str] = field(default_factory=list)
    seconds: float = 0.0


def member_key(household_id: str, name: str, birth_date: date) -> tuple[str, str, date]:
    """How a demo member is found again in the registry: its household, name and birth date."""
    return household_id, " ".join(name.split()).casefold(), birth_date


async def _registry_ids(
    engine: AsyncEngine, data: DemoData
) -> tuple[dict[str, str], set[str], set[str], dict[tuple[str, str, date], str]]:
    """No. KK -> household id; households assessed; households measured; member ids by key."""
    by_kk: dict[str, str] = {}
    assessed: set[str] = set()
    measured: set[str] = set()
    member_ids: dict[tuple[str, str, date], str] = {}
    async with engine.connect() as conn:
        for chunk in chunks([h.no_kk for h in data.households]):
            rows = await conn.execute(
                select(households.c.no_kk, households.c.id).where(households.c.no_kk.in_(chunk))
            )
            by_kk.update({no_kk: household_id for no_kk, household_id in rows})
        for chunk in chunks(list(by_kk.values())):
            assessed.update(
                h
                for (h,) in await conn.execute(
                    select(assessments.c.household_id).where(assessments.c.household_id.in_(chunk))
                )
            )
            measured.update(
                h
                for (h,) in await conn.execute(
                    select(measurements.c.household_id).where(
                        measurements.c.household_id.in_(chunk)
                    )
                )
            )
            people = await conn.execute(
                select(
                    members.c.household_id, members.c.name, members.c.birth_date, members.c.id
                ).where(members.c.household_id.in_(chunk))
            )
            member_ids.update({member_key(h, n, b): m for h, n, b, m in people})
    return by_kk, assessed, measured, member_ids


async def load(uow: UnitOfWork, engine: AsyncEngine, data: DemoData) -> DemoReport:
    """Load `data` into the registry behind `uow` and `engine`."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sinergi-demo-") as folder:
        path = Path(folder) / f"demo-{data.seed}.csv"
        demo.write_csv(data, path)
        imported = await import_file(uow, engine, path, filename=path.name)
    report = DemoReport(households=len(data.households), imported=imported)
    by_kk, assessed, measured, member_ids = await _registry_ids(engine, data)
    checked = await _past_draft(engine, list(by_kk.values()))
    for chunk in chunks(data.households, BATCH):
        async with uow.begin() as tx:
            for household in chunk:
                household_id = by_kk.get(household.no_kk)
                if household_id is None:
                    continue  # rejected by the import: its report says why
                if household_id not in assessed:
                    await assess_in(
                        tx, UUID(household_id), ruleset=data.ruleset_key, answers=household.answers
                    )
                    report.assessed += 1
                if household_id not in measured:
                    await _measure(tx, household, household_id, member_ids, report)
                if household_id not in checked and verified_by_kelurahan(household.no_kk):
                    await _verify(tx, UUID(household_id), report)
    report.seconds = time.perf_counter() - started
    return report


async def _measure(
    tx: Transaction,
    household: DemoHousehold,
    household_id: str,
    member_ids: dict[tuple[str, str, date], str],
    report: DemoReport,
) -> None:
    children = {m.id: m for m in household.members}
    for measurement in household.measurements:
        child = children[measurement.member_id]
        member_id = member_ids.get(member_key(household_id, child.name, child.birth_date))
        if member_id is None:
            continue
        try:
            await handlers.measure(
                tx,
                UUID(household_id),
                UUID(member_id),
                measured_on=measurement.measured_on,
                length_height_cm=measurement.length_height_cm,
                position=measurement.position,
                weight_kg=measurement.weight_kg,
            )
        except domain.FieldRejected as error:
            # measure() checks before it writes: the transaction goes on without this one.
            report.skipped_measurements.append(f"{measurement.member_id}: {error}")
        else:
            report.measured += 1


# Most of what RTs send is verified by their kelurahan; the rest waits on its desk.
VERIFIED_PERCENT = 85


def verified_by_kelurahan(no_kk: str) -> bool:
    return zlib.crc32(no_kk.encode()) % 100 < VERIFIED_PERCENT  # the same ones on every run


async def _past_draft(engine: AsyncEngine, household_ids: list[str]) -> set[str]:
    """Households already submitted or further: a second run leaves them as they are."""
    found: set[str] = set()
    async with engine.connect() as conn:
        for chunk in chunks(household_ids, 500):
            found.update(
                await conn.scalars(
                    select(households.c.id).where(
                        households.c.id.in_(chunk), households.c.verification != "draft"
                    )
                )
            )
    return found


async def _verify(tx: Transaction, household_id: UUID, report: DemoReport) -> None:
    try:
        await handlers.verification_step_in(tx, household_id, lambda h, _: domain.submit(h))
        await handlers.verification_step_in(
            tx, household_id, lambda h, n: domain.verify(h, open_conflicts=n)
        )
    except domain.VerificationBlocked:
        return  # an open NIK conflict: the kelurahan resolves it first, as in the field
    report.verified += 1


def describe(report: DemoReport) -> str:
    i = report.imported
    lines = [
        f"Data contoh (demo data): {report.households} rumah tangga dibuat (households generated)",
        f"  impor (import): {i.households_created} rumah tangga baru, {i.members_created} "
        f"anggota baru, {i.members_existing} sudah ada, {i.rejected} baris ditolak",
        f"  penilaian (assessments): {report.assessed}",
        f"  pengukuran anak (child measurements): {report.measured}",
        f"  diverifikasi kelurahan (verified): {report.verified}",
        f"  waktu (time): {report.seconds:.1f} s",
    ]
    if report.skipped_measurements:
        lines.append(f"  pengukuran dilewati (skipped): {len(report.skipped_measurements)}")
    return "\n".join(lines)
