"""A person's processing trail (UU PDP: the data subject's right of access), for
`sinergi trail NIK`: what the registry holds on the person (their member record, their
household, measurements and assessments), the referrals made for the household, and who read
the household or its timeline, when and why (the read audits of both services).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.referrals import models as referrals
from services.registry import models as registry
from sinergi.db import create_engine


async def trail(
    nik: str,
    registry_url: str,
    referrals_url: str | None,
    *,
    registry_schema: str | None = None,
    referrals_schema: str | None = None,
) -> dict[str, Any]:
    """Everything held on and every recorded read of the person with `nik`."""
    engine = create_engine(registry_url, schema=registry_schema)
    try:
        people = await _rows(engine, registry.members, registry.members.c.nik == nik)
        households = sorted({p["household_id"] for p in people})
        found: dict[str, Any] = {
            "nik": nik,
            "members": people,
            "households": await _rows(
                engine, registry.households, registry.households.c.id.in_(households)
            ),
            "measurements": await _rows(
                engine,
                registry.measurements,
                registry.measurements.c.member_id.in_([p["id"] for p in people]),
            ),
            "assessments": await _rows(
                engine, registry.assessments, registry.assessments.c.household_id.in_(households)
            ),
            "reads": await _reads(engine, registry.tables.read_audit, households, "registry"),
            "referrals": [],
        }
    finally:
        await engine.dispose()
    if referrals_url and households:
        engine = create_engine(referrals_url, schema=referrals_schema)
        try:
            found["referrals"] = await _rows(
                engine,
                referrals.referrals,
                referrals.referrals.c.household_id.in_(households),
            )
            found["reads"] += await _reads(
                engine, referrals.tables.read_audit, households, "referrals"
            )
        finally:
            await engine.dispose()
    found["reads"].sort(key=lambda read: read["at"])
    return found


async def _rows(engine: AsyncEngine, table: Table, where: Any) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        return [dict(row._mapping) for row in await conn.execute(select(table).where(where))]


async def _reads(
    engine: AsyncEngine, table: Table, households: list[str], service: str
) -> list[dict[str, Any]]:
    rows = await _rows(engine, table, table.c.household_id.in_(households))
    return [{"service": service} | row for row in rows]


def as_json(found: dict[str, Any]) -> str:
    def plain(value: Any) -> Any:
        if isinstance(value, datetime | date):
            return value.isoformat()
        raise TypeError(type(value).__name__)

    return json.dumps(found, default=plain, ensure_ascii=False, indent=2)
