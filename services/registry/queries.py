"""What the registry answers: households by area and state, and one household in full."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.registry import store
from services.registry.domain import Household, Member
from services.registry.models import assessments, households, measurements, nik_conflicts
from services.registry.risks import stunting_risks


@dataclass(frozen=True)
class HouseholdFilter:
    kelurahan_code: str | None = None
    rw: int | None = None
    rt: int | None = None
    verification: str | None = None
    poverty_status: str | None = None
    stunting: bool | None = None
    kecamatan_code: str | None = None
    household_ids: tuple[UUID, ...] | None = None  # only these (a page of another list's ids)


@dataclass(frozen=True)
class HouseholdDetail:
    household: Household
    members: list[Member]
    open_conflicts: list[dict[str, Any]]
    latest_assessment: dict[str, Any] | None
    stunting_risks: list[str]


def _filtered(query: Select[Any], where: HouseholdFilter) -> Select[Any]:
    c = households.c
    conditions = [
        (where.kelurahan_code, c.kelurahan_code),
        (where.rw, c.rw),
        (where.rt, c.rt),
        (where.verification, c.verification),
        (where.poverty_status, c.poverty_status),
    ]
    for value, column in conditions:
        if value is not None:
            query = query.where(column == value)
    if where.stunting is not None:
        query = query.where(c.stunted_children > 0 if where.stunting else c.stunted_children == 0)
    if where.kecamatan_code is not None:
        query = query.where(
            c.kelurahan_code.startswith(f"{where.kecamatan_code}.", autoescape=True)
        )
    if where.household_ids is not None:
        query = query.where(c.id.in_([str(i) for i in where.household_ids]))
    return query


async def household_address(engine: AsyncEngine, household_id: UUID) -> tuple[str, int, int] | None:
    """The household's kelurahan, RW and RT, or None when there is no such household."""
    c = households.c
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(c.kelurahan_code, c.rw, c.rt).where(c.id == str(household_id))
            )
        ).first()
    return None if row is None else (row.kelurahan_code, row.rw, row.rt)


async def list_households(
    engine: AsyncEngine, where: HouseholdFilter, *, after: str | None, limit: int
) -> list[Household]:
    """A page ordered by id; `after` is the last id of the previous page (keyset paging)."""
    query = _filtered(select(households), where).order_by(households.c.id).limit(limit)
    if after:
        query = query.where(households.c.id > after)
    async with engine.connect() as conn:
        rows = await conn.execute(query)
        return [Household(**(row._asdict() | {"id": UUID(row.id)})) for row in rows]


async def household_detail(engine: AsyncEngine, household_id: UUID) -> HouseholdDetail:
    async with engine.connect() as conn:
        household = await store.load_household(conn, household_id)
        people = await store.household_members(conn, household_id)
        key = str(household_id)
        conflicts = await conn.execute(
            select(
                nik_conflicts.c.id,
                nik_conflicts.c.member_id,
                nik_conflicts.c.household_id,
                nik_conflicts.c.other_household_id,
                nik_conflicts.c.detected_at,
            ).where(
                nik_conflicts.c.state == "open",
                or_(
                    nik_conflicts.c.household_id == key,
                    nik_conflicts.c.other_household_id == key,
                ),
            )
        )
        latest = (
            await conn.execute(
                select(
                    assessments.c.id,
                    assessments.c.ruleset,
                    assessments.c.status,
                    assessments.c.criteria_met,
                    assessments.c.screening,
                    assessments.c.answers,
                    assessments.c.dtsen_desil,
                    assessments.c.dtsen_source,
                    assessments.c.assessed_at,
                )
                .where(assessments.c.household_id == key)
                .order_by(assessments.c.assessed_at.desc())
                .limit(1)
            )
        ).first()
        return HouseholdDetail(
            household=household,
            members=people,
            open_conflicts=[row._asdict() for row in conflicts],
            latest_assessment=latest._asdict() if latest else None,
            stunting_risks=stunting_risks(people, latest.answers if latest else {}),
        )


async def conflict_household(engine: AsyncEngine, conflict_id: UUID) -> UUID | None:
    """The household a NIK conflict was found in, or None when there is no such conflict."""
    async with engine.connect() as conn:
        found = await conn.scalar(
            select(nik_conflicts.c.household_id).where(nik_conflicts.c.id == str(conflict_id))
        )
    return None if found is None else UUID(found)


async def child_growth(
    engine: AsyncEngine, household_id: UUID, member_id: UUID
) -> tuple[Member, list[dict[str, Any]]]:
    """A member of the household and their measurements, oldest first (NotFound otherwise)."""
    m = measurements.c
    async with engine.connect() as conn:
        child = await store.load_member(conn, household_id, member_id)
        rows = await conn.execute(
            select(m.measured_on, m.age_days, m.length_height_cm, m.hfa_z, m.hfa_category)
            .where(m.member_id == str(member_id))
            .order_by(m.measured_on, m.recorded_at)
        )
        return child, [dict(row._mapping) for row in rows]
