"""Outages and crashes lose nothing and duplicate nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import nats
import pytest
from opentelemetry import trace
from sinergi_contracts import Envelope, subjects
from sqlalchemy import func, select

from services.referrals.handlers import project_timeline
from services.referrals.models import tables as referrals_tables
from services.referrals.models import timeline_entries
from sinergi.consumer import BatchConsumer, Delivered
from sinergi.db import create_engine
from sinergi.migrate import upgrade
from sinergi.natsserver import NatsServer
from sinergi.service import Runtime
from sinergi.streams import durable_config
from tests.integration.test_slice import LOK_TUAN, household
from tests.system import eventually, start_system

pytestmark = pytest.mark.integration


async def count(runtime: Runtime, table: Any, **where: Any) -> int:
    query = select(func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    async with runtime.engine.connect() as conn:
        return int(await conn.scalar(query) or 0)


async def stream_messages(url: str) -> int:
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().stream_info(subjects.EVENTS_STREAM)
        return int(info.state.messages)
    finally:
        await nc.close()


async def test_events_written_while_nats_is_down_reach_every_consumer_exactly_once(
    settings_for: Any, nats_server: NatsServer
) -> None:
    total = 500
    async with start_system(settings_for) as system:

        async def register(first: int, last: int) -> None:
            for n in range(first, last):
                response = await system.registry.post(
                    "/households", json=household(no_kk=f"6474010101{n:06d}")
                )
                assert response.status_code == 201, response.text

        await register(0, 100)
        assert (await system.registry.get("/readyz")).json()["checks"]["nats"] == "ok"
        nats_server.stop()
        not_ready = await eventually(
            lambda: system.registry.get("/readyz"), lambda r: r.status_code == 503
        )
        assert not_ready.json()["checks"] == {"database": "ok", "nats": "disconnected"}
        await register(100, 400)  # the registry keeps accepting; events wait in its outbox
        nats_server.start()
        await register(400, total)

        referrals = system.runtime("referrals")
        notifications = system.runtime("notifications")
        await eventually(lambda: count(referrals, timeline_entries), lambda n: n >= total)
        await eventually(
            lambda: system.notifications.get(f"/inbox?recipient=kelurahan:{LOK_TUAN}"),
            lambda r: r.json()["unread"] >= total,
            within=30,
        )
        await asyncio.sleep(0.5)  # a late duplicate would arrive here

        assert await stream_messages(nats_server.client_url()) == total
        assert await count(referrals, timeline_entries) == total
        processed = referrals_tables.processed_events
        assert await count(referrals, processed, consumer=subjects.TIMELINE_DURABLE) == total
        inbox = await system.notifications.get(f"/inbox?recipient=kelurahan:{LOK_TUAN}")
        assert inbox.json()["unread"] == total
        assert (
            await count(
                notifications,
                notifications.definition.tables.processed_events,
                consumer=subjects.INBOX_DURABLE,
            )
            == total
        )


async def test_a_consumer_killed_after_its_batch_commits_adds_no_duplicate_entry(
    settings_for: Any, nats_server: NatsServer
) -> None:
    async with start_system(settings_for, services=("registry",)) as system:
        for n in range(50):
            response = await system.registry.post(
                "/households", json=household(no_kk=f"6474010102{n:06d}")
            )
            assert response.status_code == 201
        await eventually(lambda: stream_messages(nats_server.client_url()), lambda n: n == 50)

    # A referrals process takes a batch of 20, commits its effect, and dies before acking.
    settings = settings_for("referrals", ack_wait_seconds=1.0)
    await upgrade("referrals", settings)
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    nc = await nats.connect(nats_server.client_url())
    try:
        js = nc.jetstream()
        await js.add_consumer(
            subjects.EVENTS_STREAM,
            durable_config(
                durable=subjects.TIMELINE_DURABLE,
                filter_subject=f"{subjects.PREFIX}.hh.>",
                settings=settings,
                description="timeline",
            ),
        )
        doomed = await js.pull_subscribe_bind(subjects.TIMELINE_DURABLE, subjects.EVENTS_STREAM)
        batch = await doomed.fetch(20, timeout=5)
        assert len(batch) == 20
        consumer = BatchConsumer(
            name=subjects.TIMELINE_DURABLE,
            engine=engine,
            processed=referrals_tables.processed_events,
            apply=project_timeline,
            tracer=trace.NoOpTracer(),
            retry_delay=settings.retry_delay,
        )
        await consumer.apply_in_transaction(
            [
                Delivered(
                    Envelope.from_message(m.headers, m.data),
                    m.metadata.sequence.stream,
                    m.subject,
                )
                for m in batch
            ]
        )
    finally:
        await nc.close()  # without acking: the server redelivers the 20 after ack_wait
        await engine.dispose()

    async with start_system(settings_for, services=("referrals",), ack_wait_seconds=1.0) as again:
        restarted = again.runtime("referrals")
        processed = referrals_tables.processed_events
        await eventually(
            lambda: count(restarted, processed, consumer=subjects.TIMELINE_DURABLE),
            lambda n: n == 50,
        )
        nc = await nats.connect(nats_server.client_url())
        try:
            js = nc.jetstream()
            # The 20 are redelivered after ack_wait; they must be acknowledged and skipped.
            await eventually(
                lambda: js.consumer_info(subjects.EVENTS_STREAM, subjects.TIMELINE_DURABLE),
                lambda info: info.num_ack_pending == 0 and info.num_pending == 0,
            )
            # Skipped, not failed: nothing ran out of deliveries.
            advisories = await js.stream_info(subjects.ADVISORY_STREAM)
            assert advisories.state.messages == 0
        finally:
            await nc.close()
        assert await count(restarted, timeline_entries) == 50
