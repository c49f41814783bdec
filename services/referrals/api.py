"""HTTP routes of the referrals service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Json

from services.referrals import handlers
from sinergi.service import Runtime


class TimelineEntryView(BaseModel):
    event_id: str
    stream_seq: int
    type: str
    source: str
    occurred_at: datetime
    trace_id: str | None
    data: Json[dict[str, Any]]


class TimelinePage(BaseModel):
    household_id: UUID
    entries: list[TimelineEntryView]
    next_after: int | None


def routes(runtime: Runtime) -> APIRouter:
    router = APIRouter(tags=["linimasa (timeline)"])

    @router.get(
        "/households/{household_id}/timeline",
        summary="Linimasa kasus rumah tangga (a household's case timeline)",
    )
    async def timeline(
        household_id: UUID,
        after: Annotated[int, Query(ge=0, description="stream_seq terakhir yang sudah dibaca")] = 0,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> TimelinePage:
        entries = await handlers.household_timeline(
            runtime.engine, household_id=household_id, after=after, limit=limit
        )
        views = [TimelineEntryView.model_validate(entry, from_attributes=True) for entry in entries]
        return TimelinePage(
            household_id=household_id,
            entries=views,
            next_after=views[-1].stream_seq if len(views) == limit else None,
        )

    return router
