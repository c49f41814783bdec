"""HTTP routes of the referrals service: the shared case timeline, paged and live (SSE)."""

from __future__ import annotations

import functools
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from sinergi_contracts import without_health

from services.referrals import directory as directories
from services.referrals import handlers, scope
from services.referrals.domain import TimelineEntry, who_and_agency
from sinergi import live
from sinergi.audit import audited
from sinergi.auth import CASE_READERS, MANAGERS, Caller, Role, allow
from sinergi.db import POSITION_MAX
from sinergi.service import Runtime


class TimelineEntryView(BaseModel):
    event_id: str
    stream_seq: int = Field(description="Posisi di stream SINERGI_EVENTS (position in the stream)")
    type: str = Field(description="Tipe CloudEvents (CloudEvents type)")
    source: str
    occurred_at: datetime
    trace_id: str | None
    who: str | None = Field(
        description="Siapa: `actor` event rujukan atau `recorded_by` event registry "
        "(who: the referral event's actor or the registry event's recorded_by)"
    )
    agency: str | None = Field(
        description="Instansi yang disebut event, bila ada (the agency the event names, if any)"
    )
    data: dict[str, Any]


class TimelinePage(BaseModel):
    household_id: UUID
    entries: list[TimelineEntryView]
    next_after: int | None = Field(
        description="Halaman berikutnya (urut stream): ?after= ini (next page, stream order)"
    )
    next_before: int | None = Field(
        default=None,
        description="Halaman berikutnya (terbaru dulu): ?order=desc&before= ini "
        "(next page, newest first)",
    )


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def entry_json(entry: TimelineEntry, *, health: bool = True) -> str:
    """An entry as `TimelineEntryView` (HTTP and SSE alike): the event's stored JSON goes in as
    it is, `who` and `agency` are read from it. Written by hand: pydantic and FastAPI encoding
    50 nested event objects again were most of a page's time. Without `health`, an event's
    health fields are taken out (the contracts name them)."""
    data = json.loads(entry.data)
    who, agency = who_and_agency(data)
    if not health and (kept := without_health(entry.type, data)) is not data:
        entry = replace(entry, data=_encode(kept))
    head = _encode(
        {
            "event_id": entry.event_id,
            "stream_seq": entry.stream_seq,
            "type": entry.type,
            "source": entry.source,
            "occurred_at": _utc(entry.occurred_at),
            "trace_id": entry.trace_id,
            "who": who,
            "agency": agency,
        }
    )
    return f'{head[:-1]},"data":{entry.data}}}'


def _utc(moment: datetime) -> str:
    # SQLite hands the time back without its zone; every producer writes UTC (ce-time "…Z").
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.isoformat().replace("+00:00", "Z")


def page_json(
    household_id: UUID,
    entries: list[TimelineEntry],
    *,
    next_after: int | None,
    next_before: int | None,
    health: bool = True,
) -> str:
    body = ",".join(entry_json(entry, health=health) for entry in entries)
    return (
        f'{{"household_id":"{household_id}","entries":[{body}],'
        f'"next_after":{_encode(next_after)},"next_before":{_encode(next_before)}}}'
    )


SSE_DESCRIPTION = (
    "Server-Sent Events: dulu entri setelah `Last-Event-ID` (atau `after`) dari database, "
    "lalu setiap entri baru begitu diproyeksikan; `id` = stream_seq, `event` = tipe "
    "CloudEvents, `data` = entri (JSON). Komentar `: ping` tiap 15 detik. "
    "(The entries after Last-Event-ID or `after`, then each new entry as it is projected; "
    "id = stream_seq, event = CloudEvents type, data = the entry as JSON; a comment every "
    "15 s of silence.)"
)


def routes(runtime: Runtime) -> APIRouter:
    router = APIRouter(tags=["linimasa (timeline)"])
    engine = runtime.engine
    hub = live.hub_for(engine, handlers.LIVE_HUB, handlers.timeline_counts)
    seen = scope.household_seen(engine)  # the path's household is one the caller may see
    directory = directories.load(runtime.settings.directory_file)
    audit = audited(engine, runtime.definition.tables.read_audit, "timeline")

    @router.get(
        "/households/{household_id}/timeline",
        dependencies=[*allow(*CASE_READERS), seen, audit],
        summary="Linimasa kasus rumah tangga (a household's case timeline)",
        response_model=TimelinePage,
    )
    async def timeline(
        household_id: UUID,
        principal: Caller,
        after: Annotated[
            int,
            Query(
                ge=0,
                le=POSITION_MAX,
                description="Hanya entri dengan stream_seq > after (only after)",
            ),
        ] = 0,
        before: Annotated[
            int | None,
            Query(
                ge=1,
                le=POSITION_MAX,
                description="Hanya entri dengan stream_seq < before (only before)",
            ),
        ] = None,
        order: Annotated[
            Literal["asc", "desc"],
            Query(description="asc: urut stream (stream order); desc: terbaru dulu (newest first)"),
        ] = "asc",
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> Response:
        newest_first = order == "desc"
        entries = await handlers.household_timeline(
            engine,
            household_id=household_id,
            after=after,
            before=before,
            newest_first=newest_first,
            limit=limit,
        )
        last = entries[-1].stream_seq if len(entries) == limit else None
        body = page_json(
            household_id,
            entries,
            next_after=None if newest_first else last,
            next_before=last if newest_first else None,
            health=scope.sees_health(principal, directory),
        )
        return Response(body, media_type="application/json")

    async def read(household_id: str, after: int, limit: int) -> list[TimelineEntry]:
        return await handlers.household_timeline(
            engine, household_id=household_id, after=after, limit=limit
        )

    feeds = {
        health: live.Feed(
            read=read,
            position=lambda entry: entry.stream_seq,
            name=lambda entry: entry.type,
            data=functools.partial(entry_json, health=health),
        )
        for health in (True, False)
    }

    @router.get(
        "/households/{household_id}/timeline/stream",
        dependencies=[*allow(*CASE_READERS), seen, audit],
        summary="Linimasa kasus, langsung (the case timeline, live: SSE)",
        description=SSE_DESCRIPTION,
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
    )
    async def timeline_stream(
        household_id: UUID,
        principal: Caller,
        after: Annotated[
            int,
            Query(ge=0, le=POSITION_MAX, description="Mulai setelah stream_seq ini (start after)"),
        ] = 0,
        last_event_id: Annotated[
            int | None,
            Header(
                alias="Last-Event-ID",
                ge=0,
                le=POSITION_MAX,
                description="Dikirim browser saat menyambung lagi; menang atas `after` "
                "(sent by the browser on reconnect; wins over `after`)",
            ),
        ] = None,
    ) -> StreamingResponse:
        start = last_event_id if last_event_id is not None else after
        return StreamingResponse(
            live.stream(
                hub, feeds[scope.sees_health(principal, directory)], str(household_id), after=start
            ),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    city = live.hub_for(engine, handlers.CITY_HUB, handlers.city_positions)

    @router.get(
        "/timeline/changes",
        dependencies=allow(*MANAGERS, Role.AUDITOR),  # positions only: no personal data
        summary="Linimasa kota berubah, langsung (the city's timeline changed, live: SSE)",
        description="Server-Sent Events `berubah` (changed) with the timeline's latest "
        "stream position, sent once the referrals service has projected new events (so its "
        "reports already count them); no entries, no personal data. For views that re-read "
        "their figures, such as the console's 100-day dashboard. A comment every 15 s of "
        "silence.",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
    )
    async def city_changes() -> StreamingResponse:
        return StreamingResponse(
            live.changes(city, handlers.CITY, lambda: handlers.latest_position(engine)),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return router
