"""The read audit (UU PDP): every read of a household, its members or its timeline is
recorded — who (token subject, role, agency, kelurahan), when, what (resource, household, path)
and why (the `X-Sinergi-Purpose` header, when the caller gives one) — in the same service's
database, before the answer leaves. An auditor lists who saw a household with
`GET /audit/reads`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from sinergi.auth import Caller, Principal, Role, allow
from sinergi.db import POSITION_MAX

Purpose = Annotated[
    str | None,
    Header(
        alias="X-Sinergi-Purpose",
        max_length=200,
        description="Untuk apa data ini dibaca, dicatat di audit (why it is read, for the audit)",
    ),
]


def audited(engine: AsyncEngine, table: Table, resource: str) -> Any:
    """A route dependency that records the read, after the caller passed every check: of the
    path's household, or (a list) of what the path and its filters asked for."""

    async def record(request: Request, principal: Caller, purpose: Purpose = None) -> None:
        household = request.path_params.get("household_id")
        await record_reads(engine, table, request, principal, resource, [household], purpose)

    return Depends(record)


async def record_reads(
    engine: AsyncEngine,
    table: Table,
    request: Request,
    principal: Principal,
    resource: str,
    households: Iterable[object | None],
    purpose: str | None = None,
) -> None:
    """Record that `principal` read `resource` about each of `households` (one row each), for
    a route that knows whose data it shows only once it has loaded it (e.g. a duplicate pair,
    a referral). The purpose is the request's `X-Sinergi-Purpose`, unless given."""
    if purpose is None:
        purpose = request.headers.get("x-sinergi-purpose", "")[:200] or None
    now = datetime.now(UTC)
    rows = [
        {
            "at": now,
            "subject": principal.subject,
            "role": principal.role.value,
            "agency": principal.agency,
            "kelurahan": principal.kelurahan,
            "resource": resource,
            "household_id": None if household is None else str(household),
            "path": _asked(request),
            "purpose": purpose,
        }
        for household in dict.fromkeys(households)
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(table), rows)


def _asked(request: Request) -> str:
    """The path and query read (a list's filters say which households it showed)."""
    url = request.url
    return (f"{url.path}?{url.query}" if url.query else url.path)[:300]


_READ: dict[str, Any] = {
    "id": 41,
    "at": "2026-11-29T02:14:05Z",
    "subject": "lurah-lok-tuan",
    "role": "kelurahan",
    "agency": None,
    "kelurahan": "64.74.01.1003",
    "resource": "household",
    "household_id": "3f6c2a1e-8b4d-4f0a-9c7e-5d2b1a0e9f31",
    "path": "/households/3f6c2a1e-8b4d-4f0a-9c7e-5d2b1a0e9f31",
    "purpose": "verifikasi",
}


class ReadRecord(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_READ]})

    id: int
    at: datetime
    subject: str = Field(description="Siapa (the token's subject)")
    role: str
    agency: str | None
    kelurahan: str | None
    resource: str = Field(description="household, members, timeline, …")
    household_id: str | None
    path: str
    purpose: str | None


class ReadPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_READ], "next_after": None}]}
    )

    items: list[ReadRecord]
    next_after: int | None


def audit_routes(engine: AsyncEngine, table: Table) -> APIRouter:
    router = APIRouter(tags=["audit"])

    @router.get(
        "/audit/reads",
        dependencies=allow(Role.AUDITOR),
        summary="Siapa membaca data pribadi (who read personal data), oldest first",
    )
    async def reads(
        household_id: UUID | None = None,
        subject: Annotated[str | None, Query(max_length=200)] = None,
        after: Annotated[int, Query(ge=0, le=POSITION_MAX)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> ReadPage:
        query = select(table).where(table.c.id > after).order_by(table.c.id).limit(limit)
        if household_id is not None:
            query = query.where(table.c.household_id == str(household_id))
        if subject is not None:
            query = query.where(table.c.subject == subject)
        async with engine.connect() as conn:
            rows = [ReadRecord(**row._mapping) for row in await conn.execute(query)]
        return ReadPage(items=rows, next_after=rows[-1].id if len(rows) == limit else None)

    return router
