"""Registry use cases: one transaction each, state and events together."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from uuid import UUID

from sinergi_contracts import Envelope
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.registry import domain
from services.registry.models import households
from sinergi.outbox import UnitOfWork

SOURCE = "/sinergi/registry"


async def register_household(
    uow: UnitOfWork,
    *,
    no_kk: str,
    kelurahan_code: str,
    rw: int,
    rt: int,
    address: str,
    head_name: str,
) -> domain.Household:
    household, event = domain.register_household(
        no_kk=no_kk,
        kelurahan_code=kelurahan_code,
        rw=rw,
        rt=rt,
        address=address,
        head_name=head_name,
        now=datetime.now(UTC),
    )
    try:
        async with uow.begin() as tx:
            taken = await tx.conn.scalar(select(households.c.id).where(households.c.no_kk == no_kk))
            if taken:
                raise domain.DuplicateKK(no_kk)
            row = asdict(household) | {"id": str(household.id)}
            await tx.conn.execute(insert(households).values(**row))
            tx.publish(Envelope.wrap(event, source=SOURCE))
    except IntegrityError:
        # Another request registered the same KK between our check and our insert.
        raise domain.DuplicateKK(no_kk) from None
    return household


async def get_household(engine: AsyncEngine, household_id: UUID) -> domain.Household | None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(select(households).where(households.c.id == str(household_id)))
        ).first()
    if row is None:
        return None
    return domain.Household(**(row._asdict() | {"id": UUID(row.id)}))
