"""Deciding what one batch of import rows creates, without I/O.

Rows come grouped by No. KK; for each KK the plan says which household to register, which
members to add (through `domain.register_household` and `domain.add_member`, the rules and
events of the HTTP API) and which rows to reject, given what the database already holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from sinergi_contracts import HouseholdRegistered
from sinergi_contracts.household import RegistryEvent

from services.registry import domain
from services.registry.domain import Household, Member
from services.registry.import_files import Parsed
from services.registry.import_rows import FIELD_COLUMNS, HouseholdData, MemberRow
from sinergi.errors import bilingual

BATCH_HOUSEHOLDS = 500


@dataclass(frozen=True, slots=True)
class Rejection:
    row: int
    column: str
    rule: str
    pesan: str
    message: str


@dataclass
class Batch:
    """Up to BATCH_HOUSEHOLDS No. KK with their rows, and the rows that failed to parse."""

    rows: int = 0
    groups: dict[str, list[MemberRow]] = field(default_factory=dict)
    rejections: list[Rejection] = field(default_factory=list)
    rejected_rows: int = 0


@dataclass
class Known:
    """What the database already holds for one batch."""

    households: dict[str, Household] = field(default_factory=dict)
    member_keys: dict[UUID, set[tuple[object, ...]]] = field(default_factory=dict)
    niks: set[str] = field(default_factory=set)


@dataclass
class Plan:
    """One batch's writes and events, decided without I/O."""

    batch: Batch
    known: Known
    now: datetime
    new_households: list[Household] = field(default_factory=list)
    changed: list[tuple[Household, Household]] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)
    events: list[RegistryEvent] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    rejected_rows: int = 0
    existing: int = 0

    def moment(self) -> datetime:
        """`now`, a microsecond later each call: members list in file order (by added_at)."""
        self._ticks += 1
        return self.now + timedelta(microseconds=self._ticks)

    _ticks: int = 0


def batches(rows: Iterator[Parsed]) -> Iterator[Batch]:
    """Rows grouped by No. KK. A KK whose rows are far apart lands in two batches; the second
    finds it registered and adds to it."""
    batch = Batch()
    for number, parsed in rows:
        if isinstance(parsed, list):
            batch.rows += 1
            batch.rejected_rows += 1
            batch.rejections += [
                Rejection(number, p.column, p.rule, p.pesan, p.message) for p in parsed
            ]
            continue
        group = batch.groups.get(parsed.household.no_kk)
        if group is None:
            if len(batch.groups) >= BATCH_HOUSEHOLDS:
                yield batch
                batch = Batch()
            group = batch.groups[parsed.household.no_kk] = []
        group.append(parsed)
        batch.rows += 1
    if batch.rows:
        yield batch


def _member_key(nik: str | None, name: str, birth_date: object) -> tuple[object, ...]:
    return ("nik", nik) if nik else ("nama", " ".join(name.split()).casefold(), birth_date)


def keys_of(nik: str | None, name: str, birth_date: object) -> list[tuple[object, ...]]:
    """A member without NIK in the file matches anyone of that name and birth date."""
    keys = [_member_key(None, name, birth_date)]
    return [*keys, ("nik", nik)] if nik else keys


def plan_batch(batch: Batch, known: Known, now: datetime) -> Plan:
    plan = Plan(batch, known, now)
    for no_kk, rows in batch.groups.items():
        _plan_household(plan, no_kk, rows, known)
    return plan


def _plan_household(plan: Plan, no_kk: str, rows: list[MemberRow], known: Known) -> None:
    before = known.households.get(no_kk)
    household = before
    reference = HouseholdData.of(before) if before else rows[0].household
    keys = set(known.member_keys.get(before.id, ())) if before else set()
    first_row: dict[tuple[object, ...], int] = {}
    registered: HouseholdRegistered | None = None

    def reject(row: MemberRow, column: str, rule: str, pesan: str, message: str) -> None:
        plan.rejections.append(Rejection(row.number, column, rule, pesan, message))
        plan.rejected_rows += 1

    for row in rows:
        m = row.member
        if column := row.household.differs_from(reference):
            where = (
                ("data No. KK yang sudah terdaftar", "the registered household")
                if before
                else (f"baris {rows[0].number}", f"row {rows[0].number}")
            )
            reject(
                row,
                column,
                "household_mismatch",
                f"kolom rumah tangga tidak sama dengan {where[0]} (No. KK yang sama)",
                f"household column differs from {where[1]} (same No. KK)",
            )
            continue
        key = _member_key(m.nik, m.name, m.birth_date)
        if key in keys:
            plan.existing += 1
            continue
        if key in first_row:
            reject(
                row,
                "nik" if m.nik else "nama",
                "duplicate_row",
                f"anggota ini sudah ada di baris {first_row[key]} (No. KK yang sama)",
                f"this member is already on row {first_row[key]} (same No. KK)",
            )
            continue
        if household is None:
            household, registered = domain.register_household(
                no_kk=no_kk,
                kelurahan_code=reference.kelurahan_code,
                rw=reference.rw,
                rt=reference.rt,
                address=reference.address,
                head_name=reference.head_name,
                now=plan.moment(),
            )
        try:
            household, member, event = domain.add_member(
                household,
                nik=m.nik,
                name=m.name,
                sex=m.sex,
                birth_date=m.birth_date,
                relation=m.relation,
                occupation=m.occupation,
                working=m.working,
                disability=m.disability,
                pregnant=m.pregnant,
                insist=m.insist,
                now=plan.moment(),
            )
        except domain.FieldRejected as error:
            column = FIELD_COLUMNS.get(error.field, error.field)
            reject(row, column, error.rule, error.pesan, error.message)
            continue
        except domain.RegistryError as error:  # e.g. a submitted household is not editable
            text = bilingual(str(error))
            reject(row, "no_kk", type(error).__name__, text.pesan, text.message)
            continue
        for k in keys_of(m.nik, m.name, m.birth_date):
            first_row.setdefault(k, row.number)
        if registered is not None:  # announced with its first valid member, or never
            plan.events.append(registered)
            registered = None
        plan.members.append(member)
        plan.events.append(event)
    if before is None:
        if household is not None and registered is None:
            plan.new_households.append(household)
    elif household is not None and household is not before:
        plan.changed.append((before, household))


def carry(known: Known, plan: Plan) -> None:
    """Add what `plan` writes to what the database was seen to hold before it committed."""
    for household in plan.new_households + [after for _, after in plan.changed]:
        known.households[household.no_kk] = household
    for m in plan.members:
        known.member_keys.setdefault(m.household_id, set()).update(
            keys_of(m.nik, m.name, m.birth_date)
        )
        if m.nik:
            known.niks.add(m.nik)
