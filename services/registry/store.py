"""Reading and writing households and members: rows in, domain objects out."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.registry.domain import Conflict, Household, Member, NotFound
from services.registry.models import households, measurements, members, nik_conflicts


def _household(row: Any) -> Household:
    return Household(**(row._asdict() | {"id": UUID(row.id)}))


def _member(row: Any) -> Member:
    values = row._asdict()
    return Member(
        **values
        | {
            "id": UUID(row.id),
            "household_id": UUID(row.household_id),
            "nik_warnings": tuple(values["nik_warnings"]),
        }
    )


async def load_household(conn: AsyncConnection, household_id: UUID) -> Household:
    row = (
        await conn.execute(select(households).where(households.c.id == str(household_id)))
    ).first()
    if row is None:
        raise NotFound("Rumah tangga tidak ditemukan (household not found)")
    return _household(row)


async def insert_household(conn: AsyncConnection, household: Household) -> None:
    # The statement once, the values as parameters: SQLAlchemy finds it compiled at once.
    await conn.execute(_INSERT_HOUSEHOLD, vars(household) | {"id": str(household.id)})


_INSERT_HOUSEHOLD = insert(households)


async def save_household(conn: AsyncConnection, before: Household, after: Household) -> None:
    """Write `after` only if nobody changed the household since `before` was read."""
    values = vars(after) | {"id": str(after.id)}
    result = await conn.execute(
        update(households)
        .where(households.c.id == str(before.id), households.c.version == before.version)
        .values(**values)
    )
    if result.rowcount != 1:
        raise Conflict(
            "data rumah tangga baru saja diubah orang lain; muat ulang lalu coba lagi "
            "(the household was changed meanwhile; reload and try again)"
        )


async def insert_member(conn: AsyncConnection, member: Member) -> None:
    values = vars(member) | {
        "id": str(member.id),
        "household_id": str(member.household_id),
        "nik_warnings": list(member.nik_warnings),
    }
    await conn.execute(insert(members).values(**values))


async def household_members(conn: AsyncConnection, household_id: UUID) -> list[Member]:
    rows = await conn.execute(
        select(members)
        .where(members.c.household_id == str(household_id))
        .order_by(members.c.added_at, members.c.id)
    )
    return [_member(row) for row in rows]


async def load_member(conn: AsyncConnection, household_id: UUID, member_id: UUID) -> Member:
    row = (
        await conn.execute(
            select(members).where(
                members.c.id == str(member_id), members.c.household_id == str(household_id)
            )
        )
    ).first()
    if row is None:
        raise NotFound("Anggota tidak ditemukan (member not found)")
    return _member(row)


async def households_with_nik(
    conn: AsyncConnection, nik: str, *, except_household: UUID
) -> list[tuple[UUID, UUID]]:
    """(household id, member id) of every other household that lists this NIK."""
    rows = await conn.execute(
        select(members.c.household_id, members.c.id).where(
            members.c.nik == nik, members.c.household_id != str(except_household)
        )
    )
    return [(UUID(h), UUID(m)) for h, m in rows]


async def open_conflicts(conn: AsyncConnection, household_id: UUID) -> int:
    key = str(household_id)
    count = await conn.scalar(
        select(func.count())
        .select_from(nik_conflicts)
        .where(
            nik_conflicts.c.state == "open",
            or_(nik_conflicts.c.household_id == key, nik_conflicts.c.other_household_id == key),
        )
    )
    return int(count or 0)


STUNTED = ("pendek", "sangat_pendek")


async def latest_is_stunted(conn: AsyncConnection, member_id: UUID) -> bool:
    category = await conn.scalar(
        select(measurements.c.hfa_category)
        .where(measurements.c.member_id == str(member_id))
        .order_by(measurements.c.measured_on.desc(), measurements.c.recorded_at.desc())
        .limit(1)
    )
    return category in STUNTED


async def stunted_children(conn: AsyncConnection, household_id: UUID) -> int:
    """Children whose latest measurement is pendek or sangat pendek."""
    rows = await conn.execute(
        select(measurements.c.member_id, measurements.c.hfa_category)
        .where(measurements.c.household_id == str(household_id))
        .order_by(measurements.c.measured_on, measurements.c.recorded_at)
    )
    latest = {member: category for member, category in rows}
    return sum(category in STUNTED for category in latest.values())
