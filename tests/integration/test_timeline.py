"""The shared case timeline: rebuild equals live, pages both ways, the live stream (SSE)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import nats
import pytest
import uvicorn
from fastapi import FastAPI
from sinergi_contracts import (
    Envelope,
    EnvelopeError,
    HouseholdRegistered,
    HouseholdReturned,
    HouseholdSubmitted,
    HouseholdVerified,
    MemberAdded,
    ReferralRequested,
    subjects,
)
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from services.referrals.api import TimelineEntryView, TimelinePage
from services.referrals.handlers import LIVE_HUB, project_timeline
from services.referrals.models import tables as referrals_tables
from services.referrals.models import timeline_entries
from services.referrals.rebuild import Rebuilt, rebuild_timeline
from sinergi import live
from sinergi.auth import Role
from sinergi.catalogue import definition
from sinergi.config import Settings
from sinergi.consumer import Delivered
from sinergi.db import create_engine
from sinergi.migrate import upgrade
from sinergi.natsserver import NatsServer, free_port
from sinergi.service import Runtime, create_service_app
from sinergi.streams import ensure_streams
from tests import tokens
from tests.integration.test_referrals import known_household, refer
from tests.integration.test_registry import member, registered
from tests.integration.test_slice import LOK_TUAN
from tests.sse import SseReader, open_stream
from tests.system import System, eventually, start_system

pytestmark = pytest.mark.integration

Rows = list[tuple[Any, ...]]


TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
NAMES = ("Rahmat Hidayat", "Dewi Lestari", "Muhammad Rizki", "Nur Aisyah", "Yohanes Patiung")


def kk(n: int) -> str:
    return f"64740101012{n:05d}"


def child(n: int, m: int) -> dict[str, Any]:
    """A member without NIK nobody would take for another (no duplicate events)."""
    return member(
        None,
        name=f"{NAMES[m % len(NAMES)]} bin {NAMES[n % len(NAMES)].split()[0]}",
        sex="L",
        relation="anak",
        working=False,
        birth_date=f"{2000 + n % 20}-{1 + m % 12:02d}-{1 + n % 28:02d}",
    )


async def timeline_rows(engine: AsyncEngine) -> Rows:
    """Every stored entry, every column, in event id order."""
    async with engine.connect() as conn:
        query = select(timeline_entries).order_by(timeline_entries.c.event_id)
        return [tuple(row) for row in await conn.execute(query)]


async def rows_in(settings: Settings) -> Rows:
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    try:
        return await timeline_rows(engine)
    finally:
        await engine.dispose()


async def stream_size(url: str) -> int:
    nc = await nats.connect(url)
    try:
        return int((await nc.jetstream().stream_info(subjects.EVENTS_STREAM)).state.messages)
    finally:
        await nc.close()


async def settled(runtime: Runtime, nats_url: str) -> Rows:
    """The timeline once the live consumer has projected every event in the stream."""

    async def probe() -> tuple[int, int]:
        return len(await timeline_rows(runtime.engine)), await stream_size(nats_url)

    await eventually(probe, lambda sizes: sizes[0] == sizes[1] > 0, within=30)
    return await timeline_rows(runtime.engine)


async def rebuild(settings: Settings, nats_url: str) -> Rebuilt:
    nc = await nats.connect(nats_url)
    try:
        return await rebuild_timeline(settings, nc.jetstream())
    finally:
        await nc.close()


async def household_with_members(system: System, n: int, members: int) -> str:
    household_id = await registered(system.registry, kk(n))
    for m in range(members):
        response = await system.registry.post(
            f"/households/{household_id}/members",
            json=child(n, m),
        )
        assert response.status_code == 201, response.text
    return household_id


# --- rebuild equals live ------------------------------------------------------------------


async def test_a_rebuild_gives_exactly_the_live_timeline_even_while_events_keep_coming(
    settings_for: Any, nats_server: NatsServer
) -> None:
    async with start_system(settings_for, services=("registry", "referrals")) as system:
        referrals = system.runtime("referrals")
        for n in range(6):
            await household_with_members(system, n, members=n % 4)
        household_id = await known_household(system, kk(99))
        await refer(system, household_id)  # a referral event from the referrals service too
        await eventually(
            lambda: system.referrals.get(f"/households/{household_id}/timeline"),
            lambda r: ReferralRequested.ce_type() in {e["type"] for e in r.json()["entries"]},
        )
        live_rows = await settled(referrals, nats_server.client_url())
        assert {row[3] for row in live_rows} >= {
            HouseholdRegistered.ce_type(),
            MemberAdded.ce_type(),
            ReferralRequested.ce_type(),
        }

        # In place, while the service runs: nothing to change, because nothing differs.
        same = await rebuild(settings_for("referrals"), nats_server.client_url())
        assert (same.events, same.entries, same.removed, same.added) == (
            len(live_rows),
            len(live_rows),
            0,
            0,
        )
        assert await timeline_rows(referrals.engine) == live_rows

        # A damaged timeline comes back exactly: a lost entry, a changed one, a stray one.
        t = timeline_entries.c
        async with referrals.engine.begin() as conn:
            await conn.execute(delete(timeline_entries).where(t.event_id == live_rows[0][0]))
            await conn.execute(
                update(timeline_entries)
                .where(t.event_id == live_rows[1][0])
                .values(data='{"rusak": true}', trace_id=None)
            )
            stray = dict(zip(timeline_entries.c.keys(), live_rows[2], strict=True))
            await conn.execute(
                insert(timeline_entries).values(stray | {"event_id": "bukan-event-nyata"})
            )
        repaired = await rebuild(settings_for("referrals"), nats_server.client_url())
        assert (repaired.removed, repaired.added) == (2, 2)
        assert await timeline_rows(referrals.engine) == live_rows

        # Events keep coming during a rebuild: the live consumer and the rebuild meet on the
        # same entries, and the result is what a rebuild into an empty database gives.
        async def more() -> None:
            for n in range(10, 16):
                await household_with_members(system, n, members=2)

        await asyncio.gather(more(), rebuild(settings_for("referrals"), nats_server.client_url()))
        final = await settled(referrals, nats_server.client_url())
        assert len(final) > len(live_rows)

    fresh = settings_for("rebuilt")
    await upgrade("referrals", fresh)
    from_scratch = await rebuild(fresh, nats_server.client_url())
    assert from_scratch.added == len(final)
    assert await rows_in(fresh) == final


async def test_a_live_consumer_behind_a_rebuild_doubles_nothing_and_dead_letters_nothing(
    settings_for: Any, nats_server: NatsServer
) -> None:
    async with start_system(settings_for, services=("registry",)) as system:
        for n in range(4):
            await household_with_members(system, n, members=2)
        await eventually(lambda: stream_size(nats_server.client_url()), lambda size: size == 12)

    # The referrals service is down; its timeline is rebuilt before it comes back.
    settings = settings_for("referrals")
    await upgrade("referrals", settings)
    rebuilt = await rebuild(settings, nats_server.client_url())
    assert rebuilt.added == 12
    rows = await rows_in(settings)

    async with start_system(settings_for, services=("referrals",)) as system:
        referrals = system.runtime("referrals")
        processed = referrals_tables.processed_events

        async def projected() -> int:
            async with referrals.engine.connect() as conn:
                query = select(func.count()).where(
                    processed.c.consumer == subjects.TIMELINE_DURABLE
                )
                return int(await conn.scalar(query) or 0)

        await eventually(projected, lambda count: count == 12)
        assert await timeline_rows(referrals.engine) == rows

    nc = await nats.connect(nats_server.client_url())
    try:
        js = nc.jetstream()
        info = await js.consumer_info(subjects.EVENTS_STREAM, subjects.TIMELINE_DURABLE)
        assert (info.num_pending, info.num_ack_pending, info.num_redelivered) == (0, 0, 0)
        assert (await js.stream_info(subjects.DLQ_STREAM)).state.messages == 0
    finally:
        await nc.close()


async def test_odd_messages_are_rebuilt_as_the_live_projection_reads_them(
    settings_for: Any, nats_server: NatsServer
) -> None:
    """Messages off the short road (percent-encoded headers, no traceparent, a header nats-py
    parses itself, unreadable ones, an event id twice) give what the live projection gives."""
    nc = await nats.connect(nats_server.client_url())
    js = nc.jetstream()
    await ensure_streams(js, settings_for("referrals"))
    household = uuid.UUID(int=42)
    first = Envelope.wrap(
        HouseholdSubmitted(household_id=household), source="/sinergi/registry", traceparent=TRACE
    )
    again = Envelope.wrap(
        HouseholdVerified(household_id=household), source="/sinergi/x", event_id=first.id
    )
    encoded = Envelope.wrap(
        HouseholdReturned(household_id=household, note="alamat belum lengkap ü"),
        source="/sinergi/kelurahan loktuan ü",
        time=datetime(2026, 3, 4, 5, 6, 7, 1, tzinfo=timezone(timedelta(hours=8))),
    )
    plain = Envelope.wrap(
        HouseholdVerified(household_id=household), source="/sinergi/registry", traceparent=TRACE
    )
    published = [
        (first, {}),
        (again, {"Nats-Msg-Id": "lain"}),  # the same event id, a later stream position
        (encoded, {}),
        (plain, {"x-catatan": "bukan ASCII: ü", "x-spasi": "  di tepi  "}),
        (plain, {"ce-type": "id.go.bontang.sinergi.registry.tidak_ada.v1", "Nats-Msg-Id": "t"}),
        (plain, {"ce-time": "kemarin", "Nats-Msg-Id": "w"}),
    ]
    try:
        for envelope, changes in published:
            headers = envelope.attributes.to_headers() | changes
            await js.publish(envelope.nats_subject, envelope.data(), headers=headers)
        await js.publish(plain.nats_subject, b"{bukan json", headers={"Nats-Msg-Id": "j"})

        # The live projection's reading: a pull consumer, nats-py's own header parser.
        live_settings = settings_for("live")
        await upgrade("referrals", live_settings)
        live_engine = create_engine(
            live_settings.database_url, schema=live_settings.database_schema
        )
        pull = await js.pull_subscribe(f"{subjects.PREFIX}.hh.>", stream=subjects.EVENTS_STREAM)
        for msg in await pull.fetch(7, timeout=5):
            try:
                envelope = Envelope.from_message(msg.headers, msg.data)
            except EnvelopeError:
                continue
            delivered = Delivered(envelope, msg.metadata.sequence.stream, msg.subject)
            async with live_engine.begin() as conn:
                await project_timeline(conn, [delivered])
        live_rows = await timeline_rows(live_engine)
        await live_engine.dispose()
    finally:
        await nc.close()

    settings = settings_for("referrals")
    await upgrade("referrals", settings)
    rebuilt = await rebuild(settings, nats_server.client_url())
    assert (rebuilt.events, rebuilt.entries, rebuilt.unreadable) == (7, 3, 3)
    assert len(live_rows) == 3
    assert await rows_in(settings) == live_rows


# --- pages ----------------------------------------------------------------------------------


async def test_pages_in_stream_order_and_newest_first_with_who_and_which_agency(
    settings_for: Any,
) -> None:
    async with start_system(settings_for, services=("registry", "referrals")) as system:
        household_id = await known_household(system)
        for m in range(5):
            added = await system.registry.post(
                f"/households/{household_id}/members",
                json=child(50, m),
            )
            assert added.status_code == 201, added.text
        await refer(system, household_id)
        url = f"/households/{household_id}/timeline"
        everything = await eventually(
            lambda: system.referrals.get(url, params={"limit": 200}),
            lambda r: len(r.json()["entries"]) == 7,
        )
        TimelinePage.model_validate(everything.json())  # the page is what OpenAPI says
        seqs = [e["stream_seq"] for e in everything.json()["entries"]]
        assert seqs == sorted(seqs)

        async def walk(params: dict[str, Any], cursor: str) -> list[list[int]]:
            pages: list[list[int]] = []
            while True:
                page = (await system.referrals.get(url, params=params | {"limit": 3})).json()
                pages.append([e["stream_seq"] for e in page["entries"]])
                if page[cursor] is None:
                    return pages
                params = params | {cursor.removeprefix("next_"): page[cursor]}

        assert await walk({}, "next_after") == [seqs[0:3], seqs[3:6], seqs[6:]]
        newest = seqs[::-1]
        assert await walk({"order": "desc"}, "next_before") == [
            newest[0:3],
            newest[3:6],
            newest[6:],
        ]
        window = await system.referrals.get(
            url, params={"after": seqs[1], "before": seqs[5], "order": "desc"}
        )
        assert [e["stream_seq"] for e in window.json()["entries"]] == newest[2:5]

        entries = everything.json()["entries"]
        referral = next(e for e in entries if e["type"] == ReferralRequested.ce_type())
        assert (referral["who"], referral["agency"]) == (f"kelurahan:{LOK_TUAN}", "dspm")
        registered_entry = entries[0]
        assert registered_entry["type"] == HouseholdRegistered.ce_type()
        assert (registered_entry["who"], registered_entry["agency"]) == ("system:uji-sistem", None)
        assert {"trace_id", "occurred_at", "source", "data"} <= registered_entry.keys()

        bad = await system.referrals.get(url, params={"order": "sideways"})
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "order"


# --- the live stream (SSE) -----------------------------------------------------------------


async def no_counts(*_: Any) -> dict[str, int]:
    """(The routes made each app's hub already; this counter is never used.)"""
    return {}


async def test_the_live_stream_sends_the_backlog_then_new_entries_and_honours_last_event_id(
    settings_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with start_system(settings_for, services=("registry", "referrals")) as system:
        app = system.apps["referrals"]
        hub = live.hub_for(system.runtime("referrals").engine, LIVE_HUB, no_counts)
        # This replica projects: its streams are woken by the projection, not by the poll.
        monkeypatch.setattr(hub, "_poll_seconds", 3600.0)
        household_id = await household_with_members(system, 1, members=2)
        path = f"/households/{household_id}/timeline/stream"
        await eventually(
            lambda: system.referrals.get(f"/households/{household_id}/timeline"),
            lambda r: len(r.json()["entries"]) == 3,
        )

        first = await open_stream(app, path)
        assert first.status == 200
        assert first.headers["content-type"].startswith("text/event-stream")
        backlog = await first.reader.take(3)
        assert [e.event for e in backlog] == [
            HouseholdRegistered.ce_type(),
            MemberAdded.ce_type(),
            MemberAdded.ce_type(),
        ]
        assert [e.id for e in backlog] == sorted(e.id for e in backlog)
        view = TimelineEntryView.model_validate_json(backlog[0].data)
        assert (view.stream_seq, view.type) == (backlog[0].id, backlog[0].event)
        assert view.data["household_id"] == household_id
        assert hub.listeners == 1 and hub.polling

        # A new event is pushed as soon as the projection commits it (no 2 s poll needed).
        added = await system.registry.post(
            f"/households/{household_id}/members",
            json=child(60, 3),
        )
        assert added.status_code == 201
        [pushed] = await first.reader.take(1, within=1.5)
        assert pushed.event == MemberAdded.ce_type() and pushed.id > backlog[-1].id

        # Reconnecting with Last-Event-ID gets what came after it, nothing before.
        second = await open_stream(app, path, headers={"Last-Event-ID": str(backlog[1].id)})
        again = await second.reader.take(2)
        assert [e.id for e in again] == [backlog[2].id, pushed.id]
        by_query = await open_stream(app, f"{path}?after={backlog[2].id}")
        assert [e.id for e in await by_query.reader.take(1)] == [pushed.id]
        assert hub.listeners == 3

        # Hanging up ends each stream: the request returns, nothing keeps listening or polling.
        for stream in (first, second, by_query):
            await stream.close()
        assert hub.listeners == 0
        await eventually(lambda: asyncio.sleep(0, hub.polling), lambda polling: not polling)
        leftovers = [
            t.get_name()
            for t in asyncio.all_tasks()
            if t.get_name() in {"sse-request", "timeline-live-poll"}
        ]
        assert leftovers == []

        bad = await system.referrals.get(path, headers={"Last-Event-ID": "kemarin"})
        assert bad.status_code == 422


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """The app on a real socket (uvicorn, lifespan off: the test runs the runtime itself)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve(), name="uvicorn")
    await eventually(lambda: asyncio.sleep(0, server.started), bool, within=10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        async with asyncio.timeout(10):
            await task


async def test_a_replica_that_does_not_project_streams_the_same_entries_over_a_real_socket(
    settings_for: Any,
) -> None:
    async with start_system(settings_for, services=("registry", "referrals")) as system:
        household_id = await household_with_members(system, 2, members=1)
        await eventually(
            lambda: system.referrals.get(f"/households/{household_id}/timeline"),
            lambda r: len(r.json()["entries"]) == 2,
        )
        # A second replica on the same database: it serves HTTP, another replica projects.
        replica = create_service_app(definition("referrals"), settings_for("referrals"))
        replica_runtime: Runtime = replica.state.runtime
        hub = live.hub_for(replica_runtime.engine, LIVE_HUB, no_counts)
        try:
            async with (
                serving(replica) as base,
                httpx.AsyncClient(base_url=base, headers=tokens.SYSTEM) as client,
            ):
                path = f"/households/{household_id}/timeline/stream"
                async with client.stream("GET", path, timeout=15) as response:
                    assert response.status_code == 200
                    reader = SseReader(response.aiter_text())
                    backlog = await reader.take(2)
                    added = await system.registry.post(
                        f"/households/{household_id}/members",
                        json=child(70, 4),
                    )
                    assert added.status_code == 201
                    # Within the shared poll (2 s) after the other replica committed it.
                    [pushed] = await reader.take(1, within=live.POLL_SECONDS + 5)
                    assert pushed.id > backlog[-1].id
                    assert pushed.event == MemberAdded.ce_type()
                    timeline = await client.get(f"/households/{household_id}/timeline")
                    assert [e["event_id"] for e in timeline.json()["entries"]][-1] in pushed.data
                # The client hung up: the replica's stream ends and stops polling.
                await eventually(
                    lambda: asyncio.sleep(0, (hub.listeners, hub.polling)),
                    lambda state: state == (0, False),
                    within=5,
                )
        finally:
            await replica_runtime.engine.dispose()


async def test_a_quiet_stream_sends_heartbeat_comments_and_stops_polling_when_closed() -> None:
    engine = create_engine("sqlite+aiosqlite://")
    hub = live.Hub(engine, no_counts, poll_seconds=0.05)

    async def nothing(_: str, __: int, ___: int) -> list[Any]:
        return []

    feed: live.Feed[Any] = live.Feed(read=nothing, position=int, name=str, data=str)
    stream = live.stream(hub, feed, "rumah-tangga-sepi", after=0, heartbeat=0.05)
    assert await anext(stream) == f"retry: {live.RETRY_MILLISECONDS}\n\n"
    assert await anext(stream) == ": ping\n\n"
    assert await anext(stream) == ": ping\n\n"
    assert (hub.listeners, hub.polling) == (1, True)
    await stream.aclose()
    assert (hub.listeners, hub.polling) == (0, False)
    await engine.dispose()


async def test_the_city_changes_stream_says_when_new_events_are_projected_and_nothing_more(
    settings_for: Any,
) -> None:
    async with start_system(settings_for, services=("registry", "referrals")) as system:
        app = system.apps["referrals"]
        coordinator = tokens.bearer(Role.COORDINATOR, "Koordinator TKPK")
        # Only coordinators and managers may follow it; an RT may not.
        rt = tokens.bearer(Role.RT, "pak-rt", kelurahan="64.74.01.1003", rw=1, rt=1)
        refused = await system.referrals.get("/timeline/changes", headers=rt)
        assert refused.status_code == 403

        stream = await open_stream(app, "/timeline/changes", headers=coordinator)
        assert stream.status == 200
        [first] = await stream.reader.take(1)  # on connecting: where the timeline is now
        assert (first.event, json.loads(first.data)) == ("berubah", {"position": 0})

        household_id = await household_with_members(system, 1, members=1)
        changed = await stream.reader.take(1, within=5)
        while changed[-1].id < 2:  # the household and its member may come in two batches
            changed += await stream.reader.take(1, within=5)
        entries = await system.referrals.get(f"/households/{household_id}/timeline")
        newest = max(e["stream_seq"] for e in entries.json()["entries"])
        # Told only once the referrals service has the events: its reports already count them.
        assert changed[-1].id == newest and changed[-1].event == "berubah"
        assert household_id not in "".join(e.data for e in changed)  # no entries, no ids
        await stream.close()
