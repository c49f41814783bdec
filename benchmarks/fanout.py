"""Benchmark: the notifications fan-out with 50 subscribers, against the raw consume ceiling.

    .venv/bin/python -m benchmarks.fanout [--events N] [--subscribers 50] [--database-url URL]

`--events` real events (half households registered across Bontang's kelurahan, half referrals
to the five agencies of the directory) are published to a real nats-server. Then the
notifications service (its consumer, fan-out and outbox relay, in this process) starts with
`--subscribers` users subscribed to agency, kelurahan and city audiences through their inbox,
and is timed until every event is processed and every agency copy is in SINERGI_AGENCY
(the per-agency NATS channel). In the same run, on the same messages: the raw ceiling of a
bare pull-consume, claim-ids-and-insert loop (benchmarks.event_log). A benchmark, not a test:
figures are printed and saved, nothing fails on a missed goal.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
from nats.js.client import JetStreamContext
from opentelemetry import trace
from sinergi_contracts import Envelope, HouseholdRegistered, ReferralRequested, subjects
from sqlalchemy import func, insert, select

from benchmarks.event_log import (
    Bench,
    add_database_url,
    database_version,
    drop_schemas,
    fresh_stream,
    machine,
    raw_consume_and_insert,
    save_result,
)
from services.notifications.app import DEFINITION
from services.notifications.models import inbox_items, subscriptions, tables
from services.referrals.directory import load
from services.registry.areas import areas
from sinergi.migrate import upgrade
from sinergi.natsserver import NatsServer
from sinergi.service import build_runtime, running


def kelurahan_codes() -> list[str]:
    return sorted(a.code for a in areas().values() if a.level == "kelurahan")


def events(count: int) -> list[Envelope]:
    """Households registered, each then referred to one agency: the places are known."""
    agencies = sorted(load().agencies)
    codes = kelurahan_codes()
    out: list[Envelope] = []
    now = datetime.now(UTC)
    for n in range(count // 2):
        household = uuid.uuid4()
        code = codes[n % len(codes)]
        out.append(
            Envelope.wrap(
                HouseholdRegistered(
                    household_id=household, kelurahan_code=code, rw=1 + n % 9, rt=1 + n % 20,
                    address=f"Jl. Cendana {n}", head_name=f"Kepala Keluarga {n}",
                    registered_at=now,
                ),
                source="/sinergi/registry",
            )
        )  # fmt: skip
        out.append(
            Envelope.wrap(
                ReferralRequested(
                    household_id=household, referral_id=uuid.uuid4(),
                    agency=agencies[n % len(agencies)], actor=f"kelurahan:{code}",
                    programme="bench", funding="APBD", kelurahan_code=code,
                    due_at=now + timedelta(days=2),
                ),
                source="/sinergi/referrals",
            )
        )  # fmt: skip
    return out


def subscriber_rows(count: int) -> list[dict[str, Any]]:
    """`count` users, each following one audience through the inbox: agencies first, then
    kelurahan, then the city."""
    audiences = [f"agency:{a}" for a in sorted(load().agencies)]
    audiences += [f"kelurahan:{c}" for c in kelurahan_codes()] + ["city"]

    def row(n: int) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()), "owner": f"user:pengguna-{n}", "channel": "inbox",
            "audience": audiences[n % len(audiences)], "event_types": [], "target": None,
            "secret": None, "language": "id", "state": "active", "disabled_reason": None,
            "failures": 0, "created_at": datetime.now(UTC),
        }  # fmt: skip

    return [row(n) for n in range(count)]


async def publish(js: JetStreamContext, envelopes: list[Envelope]) -> None:
    pending = []
    for envelope in envelopes:
        pending.append(
            await js.publish_async(
                envelope.nats_subject, envelope.data(), headers=envelope.attributes.to_headers()
            )
        )
        if len(pending) == 1000:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)


async def fan_out(bench: Bench, js: JetStreamContext, run: str, subscribers: int) -> dict[str, Any]:
    settings = bench.settings("notifications", run)
    await upgrade("notifications", settings)
    runtime = build_runtime(DEFINITION, settings, tracer_provider=trace.NoOpTracerProvider())
    async with runtime.engine.begin() as conn:
        await conn.execute(insert(subscriptions), subscriber_rows(subscribers))
    envelopes = events(bench.events)
    await fresh_stream(js, subjects.EVENTS_STREAM, subjects.EVENTS_STREAM_SUBJECTS[0])
    await publish(js, envelopes)
    forwarded = sum(isinstance(e.event, ReferralRequested) for e in envelopes)
    processed = tables.processed_events

    async def done() -> tuple[int, int]:
        async with runtime.engine.connect() as conn:
            count = await conn.scalar(select(func.count()).select_from(processed))
        info = await js.stream_info(subjects.AGENCY_STREAM)
        return int(count or 0), int(info.state.messages)

    start = time.perf_counter()
    async with running(runtime):
        consumed_at = None
        while True:
            count, copies = await done()
            if consumed_at is None and count >= len(envelopes):
                consumed_at = time.perf_counter()
            if consumed_at is not None and copies >= forwarded:
                break
            await asyncio.sleep(0.05)
        finished = time.perf_counter()
        async with runtime.engine.connect() as conn:
            items = int(await conn.scalar(select(func.count()).select_from(inbox_items)) or 0)
    await runtime.engine.dispose()
    for stream in (subjects.EVENTS_STREAM, subjects.AGENCY_STREAM, subjects.DLQ_STREAM):
        await js.delete_stream(stream)
    await js.delete_stream(subjects.ADVISORY_STREAM)
    consumed = consumed_at - start
    return {
        "events": len(envelopes),
        "inbox_items": items,
        "agency_copies": forwarded,
        "consumed_per_second": len(envelopes) / consumed,
        "with_agency_copies_published_per_second": len(envelopes) / (finished - start),
        "inbox_items_per_second": items / consumed,
    }


async def main(count: int, subscribers: int, database_url: str) -> dict[str, Any]:
    run = uuid.uuid4().hex[:6]
    with (
        tempfile.TemporaryDirectory() as workdir,
        NatsServer(store_dir=Path(workdir) / "nats") as server,
    ):
        bench = Bench(server.url, database_url, Path(workdir), count)
        nc = await nats.connect(server.url)
        try:
            js = nc.jetstream()
            raw = await raw_consume_and_insert(bench, js, run)
            figures = await fan_out(bench, js, run, subscribers)
        finally:
            await nc.close()
            await drop_schemas(database_url, [run, f"{run}c"])
    return {
        "machine": machine(database_url)
        | {"database_version": await database_version(database_url)},
        "subscribers": subscribers,
        "raw_consume_and_insert_per_second": raw,
        "fan_out": figures,
        "ratio_consumed_over_raw": figures["consumed_per_second"] / raw,
    }


def report(result: dict[str, Any]) -> str:
    m, f = result["machine"], result["fan_out"]
    return "\n".join(
        [
            f"machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}",
            f"         {m['nats_server']}, {m['database_version']}",
            f"events: {f['events']:,} ({f['agency_copies']:,} referrals forwarded to agencies), "
            f"{result['subscribers']} subscribed users",
            "",
            f"  raw consume-and-insert ceiling      "
            f"{result['raw_consume_and_insert_per_second']:>9,.0f} events/s",
            f"  fan-out consumed                    {f['consumed_per_second']:>9,.0f} events/s"
            f"  ({f['inbox_items_per_second']:,.0f} inbox items/s, {f['inbox_items']:,} items)",
            f"  … and agency copies published       "
            f"{f['with_agency_copies_published_per_second']:>9,.0f} events/s",
            f"  fan-out / raw                       {result['ratio_consumed_over_raw']:.2f}",
        ]
    )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--subscribers", type=int, default=50)
    add_database_url(parser)
    args = parser.parse_args()
    result = asyncio.run(main(args.events, args.subscribers, args.database_url))
    print(report(result))
    save_result(result, "fanout")


if __name__ == "__main__":
    cli()
