"""Benchmark: the outbox relay and a projection consumer against the raw ceilings, in one run.

    .venv/bin/python -m benchmarks.event_log [--events N] [--repeat R] [--database-url URL]

Raw ceilings, measured here and now: nats-server alone (async publish, batched consume), the
database alone (batched insert) and a bare consume-and-insert loop. Then the project's own
paths: `OutboxRelay` and the referrals timeline consumer. Figures are medians of R runs; the
ratios are what the foundation issue asks for (relay ≥ 0.40 of raw async publish, projection
≥ 0.50 of raw consume-and-insert). A benchmark, not a test: it never fails on a missed goal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig
from nats.js.client import JetStreamContext
from opentelemetry import trace
from sinergi_contracts import Envelope, HouseholdRegistered, subjects
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from services.referrals.app import DEFINITION as REFERRALS
from services.referrals.models import timeline_entries
from services.registry.models import tables as registry_tables
from sinergi.config import Settings
from sinergi.db import create_engine
from sinergi.migrate import upgrade
from sinergi.natsserver import NatsServer, nats_server_binary
from sinergi.outbox import OutboxRelay, UnitOfWork
from sinergi.service import build_runtime, running
from sinergi.streams import ensure_streams

RESULTS = Path(__file__).parent / "results"


@dataclass
class Bench:
    """One run's surroundings: the server, the database and a fresh name for everything."""

    nats_url: str
    database_url: str
    workdir: Path
    events: int

    def settings(self, service: str, run: str) -> Settings:
        if self.database_url.startswith("postgresql"):
            url, schema = self.database_url, f"bench_{run}_{service}"
        else:
            url, schema = f"sqlite+aiosqlite:///{self.workdir / f'{run}-{service}.db'}", None
        return Settings(
            database_url=url,
            database_schema=schema,
            nats_servers=[self.nats_url],
            environment="test",
            consumer_batch_size=500,
            relay_batch_size=500,
        )


async def timed(action: Callable[[], Awaitable[None]]) -> float:
    start = time.perf_counter()
    await action()
    return time.perf_counter() - start


async def fresh_stream(js: JetStreamContext, name: str, subject: str) -> None:
    await js.add_stream(
        StreamConfig(name=name, subjects=[subject], storage=StorageType.FILE, duplicate_window=120)
    )


# --- raw ceilings -------------------------------------------------------------------------


async def raw_publish(bench: Bench, js: JetStreamContext, run: str) -> float:
    """nats-py publish_async of the same messages the relay sends, acks gathered per 1000."""
    await fresh_stream(js, f"RAWPUB_{run}", f"rawpub.{run}")
    messages = wire_messages(bench.events)

    async def publish() -> None:
        pending = []
        for headers, data in messages:
            pending.append(await js.publish_async(f"rawpub.{run}", data, headers=headers))
            if len(pending) == 1000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)

    elapsed = await timed(publish)
    await js.delete_stream(f"RAWPUB_{run}")
    return bench.events / elapsed


def wire_messages(count: int) -> list[tuple[dict[str, str], bytes]]:
    """Real events as they travel: CloudEvents headers (with Nats-Msg-Id) and a JSON body.

    The raw ceilings move the same bytes as the project's paths, so a ratio measures our code,
    not a difference in message size.
    """
    envelopes = [registered(n) for n in range(count)]
    return [(e.attributes.to_headers(), e.data()) for e in envelopes]


async def filled_stream(bench: Bench, js: JetStreamContext, name: str, subject: str) -> None:
    await fresh_stream(js, name, subject)
    pending = [
        await js.publish_async(subject, data, headers=headers)
        for headers, data in wire_messages(bench.events)
    ]
    await asyncio.gather(*pending)


async def raw_consume(bench: Bench, js: JetStreamContext, run: str) -> float:
    """nats-py pull consumer, fetch 500, ack each."""
    name, subject = f"RAWCON_{run}", f"rawcon.{run}"
    await filled_stream(bench, js, name, subject)
    pull = await js.pull_subscribe(
        subject, durable="raw", stream=name, config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT)
    )

    async def consume() -> None:
        seen = 0
        while seen < bench.events:
            for msg in await pull.fetch(500, timeout=5):
                await msg.ack()
                seen += 1

    elapsed = await timed(consume)
    await js.delete_stream(name)
    return bench.events / elapsed


def raw_tables() -> tuple[MetaData, Table, Table]:
    metadata = MetaData()
    rows = Table(
        "raw_rows",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("event_id", String(64)),
        Column("body", String(500)),
    )
    seen = Table("raw_seen", metadata, Column("event_id", String(64), primary_key=True))
    return metadata, rows, seen


async def raw_engine(bench: Bench, run: str) -> tuple[AsyncEngine, Table, Table]:
    settings = bench.settings("raw", run)
    if settings.database_schema:
        setup = create_engine(settings.database_url)
        async with setup.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{settings.database_schema}"'))
        await setup.dispose()
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    metadata, rows, seen = raw_tables()
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    return engine, rows, seen


async def raw_insert(bench: Bench, run: str) -> float:
    """SQLAlchemy Core insert, executemany in transactions of 500 rows."""
    engine, rows, _ = await raw_engine(bench, f"{run}i")

    async def insert_all() -> None:
        for start in range(0, bench.events, 500):
            batch = [
                {"event_id": str(n), "body": "x" * 300}
                for n in range(start, min(start + 500, bench.events))
            ]
            async with engine.begin() as conn:
                await conn.execute(insert(rows), batch)

    elapsed = await timed(insert_all)
    await engine.dispose()
    return bench.events / elapsed


async def raw_consume_and_insert(bench: Bench, js: JetStreamContext, run: str) -> float:
    """Fetch 200, one transaction a batch: claim the ids (ON CONFLICT DO NOTHING), insert, ack."""
    name, subject = f"RAWCI_{run}", f"rawci.{run}"
    await filled_stream(bench, js, name, subject)
    engine, rows, seen = await raw_engine(bench, f"{run}c")
    pull = await js.pull_subscribe(
        subject, durable="raw", stream=name, config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT)
    )

    async def consume() -> None:
        done = 0
        while done < bench.events:
            batch = await pull.fetch(200, timeout=5)
            by_id = {m.headers["ce-id"]: m for m in batch if m.headers}
            async with engine.begin() as conn:
                # The idempotency claim as a plain loop would do it: one statement, by key.
                dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
                fresh = (
                    await conn.execute(
                        dialect.insert(seen).on_conflict_do_nothing().returning(seen.c.event_id),
                        [{"event_id": event_id} for event_id in by_id],
                    )
                ).scalars()
                await conn.execute(
                    insert(rows),
                    [{"event_id": i, "body": by_id[i].data.decode()} for i in fresh],
                )
            for msg in batch:
                await msg.ack()
            done += len(batch)

    elapsed = await timed(consume)
    await engine.dispose()
    await js.delete_stream(name)
    return bench.events / elapsed


# --- the project's paths ---------------------------------------------------------------------


def registered(n: int) -> Envelope:
    event = HouseholdRegistered(
        household_id=uuid.uuid4(),
        kelurahan_code="64.74.01.1003",
        rw=1 + n % 20,
        rt=1 + n % 30,
        address=f"Jl. Pupuk Raya Gg. Mawar No. {n}",
        head_name=f"Kepala Keluarga {n}",
        registered_at=datetime.now(UTC),
    )
    return Envelope.wrap(event, source="/sinergi/registry")


async def outbox_relay(bench: Bench, js: JetStreamContext, run: str) -> float:
    """Rows written through the real UnitOfWork, then timed through OutboxRelay.relay_once."""
    settings = bench.settings("registry", run)
    await upgrade("registry", settings)
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    uow = UnitOfWork(engine=engine, outbox=registry_tables.outbox, on_commit=lambda: None)
    for start in range(0, bench.events, 500):
        async with uow.begin() as tx:
            tx.publish(*(registered(n) for n in range(start, min(start + 500, bench.events))))
    await ensure_streams(js, settings)
    relay = OutboxRelay(
        service="registry",
        engine=engine,
        outbox=registry_tables.outbox,
        js=js,
        tracer=trace.NoOpTracer(),
        batch_size=settings.relay_batch_size,
    )

    async def drain() -> None:
        while await relay.relay_once():
            pass

    elapsed = await timed(drain)
    await engine.dispose()
    stored = (await js.stream_info(subjects.EVENTS_STREAM)).state.messages
    if stored != bench.events:
        raise RuntimeError(f"relay stored {stored} events, expected {bench.events}")
    return bench.events / elapsed


async def projection(bench: Bench, run: str) -> float:
    """The referrals service's timeline consumer reading the events the relay published."""
    settings = bench.settings("referrals", run)
    await upgrade("referrals", settings)
    runtime = build_runtime(REFERRALS, settings, tracer_provider=trace.NoOpTracerProvider())

    async def entries() -> int:
        async with runtime.engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(timeline_entries)) or 0)

    start = time.perf_counter()
    async with running(runtime):
        while True:
            if await entries() >= bench.events:
                break
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - start
    return bench.events / elapsed


# --- the run ----------------------------------------------------------------------------------


def machine(database_url: str) -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    server = subprocess.run(
        [str(nats_server_binary()), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "nats_server": server,
        "database": "postgresql" if database_url.startswith("postgresql") else "sqlite",
        "sqlite": sqlite3.sqlite_version,
    }


async def database_version(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        return f"SQLite {sqlite3.sqlite_version}"
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        version = str(await conn.scalar(text("SELECT version()")))
    await engine.dispose()
    return version.split(" on ")[0]


async def drop_schemas(database_url: str, runs: list[str]) -> None:
    if not database_url.startswith("postgresql"):
        return
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        for run in runs:
            for service in ("raw", "registry", "referrals"):
                for suffix in ("", "i", "c"):
                    schema = f"bench_{run}{suffix}_{service}"
                    await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await engine.dispose()


async def one_repetition(bench: Bench, js: JetStreamContext, run: str) -> dict[str, float]:
    figures = {
        "raw_async_publish": await raw_publish(bench, js, run),
        "raw_batched_consume": await raw_consume(bench, js, run),
        "raw_batched_insert": await raw_insert(bench, run),
        "raw_consume_and_insert": await raw_consume_and_insert(bench, js, run),
        "outbox_relay": await outbox_relay(bench, js, run),
        "projection_consumer": await projection(bench, run),
    }
    for stream in (subjects.EVENTS_STREAM, subjects.DLQ_STREAM, subjects.ADVISORY_STREAM):
        await js.delete_stream(stream)
    return figures


async def main(events: int, repeat: int, database_url: str) -> dict[str, Any]:
    runs = [uuid.uuid4().hex[:6] for _ in range(repeat)]
    with (
        tempfile.TemporaryDirectory() as workdir,
        NatsServer(store_dir=Path(workdir) / "nats") as server,
    ):
        bench = Bench(server.url, database_url, Path(workdir), events)
        nc = await nats.connect(server.url)
        try:
            repetitions = [await one_repetition(bench, nc.jetstream(), run) for run in runs]
        finally:
            await nc.close()
            await drop_schemas(database_url, runs)
    medians = {k: statistics.median(r[k] for r in repetitions) for k in repetitions[0]}
    return {
        "machine": machine(database_url)
        | {"database_version": await database_version(database_url)},
        "events": events,
        "repeat": repeat,
        "median_per_second": medians,
        "runs": repetitions,
        "ratios": {
            "relay_over_raw_async_publish": medians["outbox_relay"] / medians["raw_async_publish"],
            "projection_over_raw_consume_and_insert": medians["projection_consumer"]
            / medians["raw_consume_and_insert"],
        },
    }


def add_database_url(parser: argparse.ArgumentParser) -> None:
    """--database-url: PostgreSQL when given (or SINERGI_TEST_DATABASE_URL), SQLite otherwise."""
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SINERGI_TEST_DATABASE_URL", "sqlite+aiosqlite://"),
        help="postgresql+asyncpg://… to measure PostgreSQL (throwaway schemas); SQLite files "
        "otherwise",
    )


def save_result(result: dict[str, Any], kind: str) -> Path:
    """Write `result` to benchmarks/results/<time>-<kind>-<database>.json (not committed)."""
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{stamp}-{kind}-{result['machine']['database']}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"\nsaved {path}")
    return path


def report(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}",
        f"         {m['nats_server']}, {m['database_version']}",
        f"events: {result['events']} per path, median of {result['repeat']} runs",
        "",
    ]
    for name, value in result["median_per_second"].items():
        lines.append(f"  {name:<26} {value:>10,.0f} /s")
    ratios = result["ratios"]
    lines += [
        "",
        f"  relay / raw async publish            {ratios['relay_over_raw_async_publish']:.2f}"
        "  (goal ≥ 0.40)",
        f"  projection / raw consume-and-insert  "
        f"{ratios['projection_over_raw_consume_and_insert']:.2f}  (goal ≥ 0.50)",
    ]
    return "\n".join(lines)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    add_database_url(parser)
    args = parser.parse_args()
    result = asyncio.run(main(args.events, args.repeat, args.database_url))
    print(report(result))
    save_result(result, "event-log")


if __name__ == "__main__":
    cli()
