"""Event-log benchmark: this machine's raw ceilings and Sinergi's relay and projection paths.

Run ``python -m benchmarks.bench_event_log [--events N] [--database-url URL]``. One process
starts its own nats-server and measures, as the median of three repetitions each:

1. nats-py ``publish_async`` into a file stream, acks gathered per 1000 (raw publish);
2. a pull consumer fetching 500 and acking each (raw consume);
3. SQLAlchemy Core ``insert()`` executemany in batches of 500 (raw insert);
4. fetch 200, one transaction inserting a row and an idempotency row per event, ack
   (raw consume-and-insert);
5. ``OutboxRelay.relay_once()`` draining a registry outbox written through ``UnitOfWork``;
6. the referrals service's timeline projection catching up on those events.

The project paths are reported as ratios to the raw paths they stand on (5 / 1 and 6 / 4),
because absolute numbers only mean something on the machine that produced them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError
from opentelemetry import trace
from sinergi_contracts import Envelope, HouseholdRegistered, subjects
from sinergi_contracts.envelope import MSG_ID_HEADER
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.referrals.app import DEFINITION as REFERRALS
from services.referrals.models import timeline_entries
from services.registry.handlers import SOURCE as REGISTRY_SOURCE
from services.registry.models import tables as registry_tables
from sinergi.config import Settings
from sinergi.db import create_engine
from sinergi.migrate import upgrade
from sinergi.natsserver import NatsServer, nats_server_binary
from sinergi.outbox import OutboxRelay, UnitOfWork
from sinergi.service import build_runtime, running
from sinergi.streams import ensure_streams

REPETITIONS = 3
PUBLISH_ACK_GROUP = 1000
RAW_FETCH = 500
RAW_INSERT_BATCH = 500
CONSUME_INSERT_FETCH = 200
CONSUMER_BATCH_SIZE = 200  # the projection fetches what the raw consume-and-insert fetches
OUTBOX_WRITE_BATCH = 500
POLL_SECONDS = 0.05
RAW_MESSAGE_BYTES = 400

RAW_STREAM = "BENCH"
RAW_SUBJECTS = "bench.>"
SINERGI_STREAMS = (subjects.EVENTS_STREAM, subjects.DLQ_STREAM, subjects.ADVISORY_STREAM)

RELAY_GOAL = 0.40
PROJECTION_GOAL = 0.50

RESULTS_DIR = Path(__file__).resolve().parent / "results"


# --- results ----------------------------------------------------------------------------------


@dataclass
class Figure:
    """One measured rate, every repetition kept so the spread is visible."""

    title: str
    unit: str
    runs: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "unit": self.unit,
            "runs": [round(r, 1) for r in self.runs],
            "median": round(self.median, 1),
        }


def new_figures() -> dict[str, Figure]:
    return {
        "raw_publish_async": Figure("nats publish_async, acks per 1000", "msg/s"),
        "raw_fetch_ack": Figure("nats pull fetch 500, ack each", "msg/s"),
        "raw_db_insert": Figure("database Core insert, executemany 500", "rows/s"),
        "raw_consume_insert": Figure("fetch 200 + 1 tx (row + idempotency row) + ack", "events/s"),
        "outbox_relay": Figure("OutboxRelay.relay_once until drained", "events/s"),
        "projection": Figure("referrals timeline projection catching up", "events/s"),
        "projection_startup": Figure("of which the referrals service's start-up", "s"),
    }


def ratios(figures: dict[str, Figure]) -> dict[str, dict[str, Any]]:
    def ratio(numerator: str, denominator: str, goal: float) -> dict[str, Any]:
        value = figures[numerator].median / figures[denominator].median
        return {"value": round(value, 3), "goal": goal, "met": value >= goal}

    return {
        "relay / raw publish_async": ratio("outbox_relay", "raw_publish_async", RELAY_GOAL),
        "projection / raw consume-and-insert": ratio(
            "projection", "raw_consume_insert", PROJECTION_GOAL
        ),
    }


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


async def timed(work: Callable[[], Awaitable[None]]) -> float:
    """Seconds `work` takes, after a full collection so earlier garbage is not billed to it."""
    gc.collect()
    started = time.perf_counter()
    await work()
    return time.perf_counter() - started


# --- the machine ------------------------------------------------------------------------------


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def ram_gib() -> float | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    return None


def nats_server_version() -> str:
    result = subprocess.run(
        [str(nats_server_binary()), "--version"], capture_output=True, text=True, check=True
    )
    return result.stdout.strip().removeprefix("nats-server: ")


def machine(database_version: str) -> dict[str, Any]:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": ram_gib(),
        "python": f"{platform.python_version()} (plain asyncio)",
        "nats_server": nats_server_version(),
        "nats_py": package_metadata.version("nats-py"),
        "sqlalchemy": package_metadata.version("sqlalchemy"),
        "database": database_version,
    }


# --- the database -----------------------------------------------------------------------------


@dataclass
class Database:
    """Hands out empty databases: an SQLite file each, or a PostgreSQL schema each.

    On PostgreSQL every schema is named ``bench_<run>_<purpose>`` and all are dropped at the
    end; one schema cannot serve both services, since each has its own `outbox`,
    `processed_events` and `alembic_version`.
    """

    url: str | None  # None: SQLite
    directory: Path
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    schemas: set[str] = field(default_factory=set)
    _admin: AsyncEngine | None = None

    def admin(self) -> AsyncEngine:
        assert self.url is not None, "only PostgreSQL has an admin engine"
        if self._admin is None:
            self._admin = create_async_engine(self.url)
        return self._admin

    async def fresh(self, purpose: str) -> tuple[str, str | None]:
        """(url, schema) of a new, empty database for `purpose`; an old one is dropped."""
        if self.url is None:
            path = self.directory / f"{purpose}.db"
            for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                leftover.unlink(missing_ok=True)
            return f"sqlite+aiosqlite:///{path}", None
        schema = f"bench_{self.run_id}_{purpose}"
        async with self.admin().begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        self.schemas.add(schema)
        return self.url, schema

    async def version(self) -> str:
        if self.url is not None:
            async with self.admin().connect() as conn:
                return f"PostgreSQL {await conn.scalar(text('SHOW server_version'))}"
        url, _ = await self.fresh("version")
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return f"SQLite {await conn.scalar(text('SELECT sqlite_version()'))} (WAL)"
        finally:
            await engine.dispose()

    async def close(self) -> None:
        if self._admin is None:
            return
        async with self._admin.begin() as conn:
            for schema in sorted(self.schemas):
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await self._admin.dispose()


@contextlib.asynccontextmanager
async def engine_for(database: Database, purpose: str) -> AsyncIterator[AsyncEngine]:
    """A fresh database with Sinergi's own engine settings (SQLite WAL, PostgreSQL pool)."""
    url, schema = await database.fresh(purpose)
    engine = create_engine(url, schema=schema)
    try:
        yield engine
    finally:
        await engine.dispose()


def service_settings(nats_url: str, url: str, schema: str | None) -> Settings:
    return Settings(
        environment="test",
        database_url=url,
        database_schema=schema,
        nats_servers=[nats_url],
        consumer_batch_size=CONSUMER_BATCH_SIZE,
        log_json=False,
    )


# --- raw ceilings -----------------------------------------------------------------------------

raw_metadata = MetaData()
raw_rows = Table(
    "bench_rows",
    raw_metadata,
    Column("id", Integer, primary_key=True),
    Column("event_id", String(64), nullable=False),
    Column("data", LargeBinary, nullable=False),
)
# The consume-and-insert path writes what a projection writes: an effect row and the
# processed-event row that makes redelivery harmless (the same shape as `processed_events`).
raw_events = Table(
    "bench_events",
    raw_metadata,
    Column("event_id", String(64), primary_key=True),
    Column("stream_seq", BigInteger, nullable=False),
    Column("subject", String(255), nullable=False),
    Column("data", LargeBinary, nullable=False),
)
raw_processed = Table(
    "bench_processed",
    raw_metadata,
    Column("consumer", String(64), primary_key=True),
    Column("event_id", String(64), primary_key=True),
    Column("stream_seq", BigInteger, nullable=True),
    Column("processed_at", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class RawMessage:
    subject: str
    event_id: str
    data: bytes


def raw_messages(count: int) -> list[RawMessage]:
    """~400-byte JSON bodies on per-household subjects, made before any clock starts."""
    messages = []
    for _ in range(count):
        household = str(uuid.uuid4())
        body = json.dumps({"household_id": household, "kelurahan_code": "64.74.01.1001"})
        padded = body[:-1] + ', "note": "' + "x" * max(0, RAW_MESSAGE_BYTES - len(body) - 12) + '"}'
        messages.append(
            RawMessage(
                f"bench.hh.{household}.registry.registered", str(uuid.uuid4()), padded.encode()
            )
        )
    return messages


async def recreate_stream(js: JetStreamContext, name: str, subject: str) -> None:
    with contextlib.suppress(NotFoundError):
        await js.delete_stream(name)
    await js.add_stream(StreamConfig(name=name, subjects=[subject], storage=StorageType.FILE))


async def publish_async(js: JetStreamContext, messages: list[RawMessage]) -> None:
    acks: list[asyncio.Future[Any]] = []
    for message in messages:
        headers = {MSG_ID_HEADER: message.event_id}
        acks.append(await js.publish_async(message.subject, message.data, headers=headers))
        if len(acks) == PUBLISH_ACK_GROUP:
            await asyncio.gather(*acks)
            acks.clear()
    await asyncio.gather(*acks)


async def pull(js: JetStreamContext, durable: str) -> JetStreamContext.PullSubscription:
    config = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, max_ack_pending=10_000)
    return await js.pull_subscribe(RAW_SUBJECTS, durable=durable, stream=RAW_STREAM, config=config)


async def fetch_and_ack(js: JetStreamContext, count: int) -> float:
    subscription = await pull(js, "raw-fetch")

    async def work() -> None:
        received = 0
        while received < count:
            for msg in await subscription.fetch(RAW_FETCH, timeout=5):
                await msg.ack()
                received += 1

    seconds = await timed(work)
    await subscription.unsubscribe()
    return rate(count, seconds)


async def insert_rows(database: Database, messages: list[RawMessage]) -> float:
    async with engine_for(database, "raw_insert") as engine:
        async with engine.begin() as conn:
            await conn.run_sync(raw_metadata.create_all)
        rows = [{"id": i, "event_id": m.event_id, "data": m.data} for i, m in enumerate(messages)]

        async def work() -> None:
            for start in range(0, len(rows), RAW_INSERT_BATCH):
                async with engine.begin() as conn:
                    await conn.execute(insert(raw_rows), rows[start : start + RAW_INSERT_BATCH])

        return rate(len(rows), await timed(work))


async def consume_and_insert(js: JetStreamContext, database: Database, count: int) -> float:
    async with engine_for(database, "raw_consume") as engine:
        async with engine.begin() as conn:
            await conn.run_sync(raw_metadata.create_all)
        subscription = await pull(js, "raw-consume-insert")

        async def work() -> None:
            stored = 0
            while stored < count:
                batch = await subscription.fetch(CONSUME_INSERT_FETCH, timeout=5)
                now = datetime.now(UTC)
                events, processed = [], []
                for msg in batch:
                    event_id = (msg.headers or {})[MSG_ID_HEADER]
                    seq = msg.metadata.sequence.stream
                    events.append(
                        {
                            "event_id": event_id,
                            "stream_seq": seq,
                            "subject": msg.subject,
                            "data": msg.data,
                        }
                    )
                    processed.append(
                        {
                            "consumer": "raw",
                            "event_id": event_id,
                            "stream_seq": seq,
                            "processed_at": now,
                        }
                    )
                async with engine.begin() as conn:
                    await conn.execute(insert(raw_events), events)
                    await conn.execute(insert(raw_processed), processed)
                for msg in batch:
                    await msg.ack()
                stored += len(batch)

        seconds = await timed(work)
        await subscription.unsubscribe()
        return rate(count, seconds)


async def raw_ceilings(
    js: JetStreamContext, database: Database, count: int, figures: dict[str, Figure]
) -> None:
    """Figures 1–4 once: the stream published in (1) feeds the consumers of (2) and (4)."""
    messages = raw_messages(count)
    await recreate_stream(js, RAW_STREAM, RAW_SUBJECTS)
    seconds = await timed(lambda: publish_async(js, messages))
    figures["raw_publish_async"].runs.append(rate(count, seconds))
    stored = (await js.stream_info(RAW_STREAM)).state.messages
    if stored != count:
        raise RuntimeError(f"raw stream holds {stored} messages, expected {count}")
    figures["raw_fetch_ack"].runs.append(await fetch_and_ack(js, count))
    figures["raw_db_insert"].runs.append(await insert_rows(database, messages))
    figures["raw_consume_insert"].runs.append(await consume_and_insert(js, database, count))


# --- project paths ----------------------------------------------------------------------------


def household_events(count: int) -> list[Envelope]:
    """Registrations of `count` distinct households, as the registry wraps them."""
    now = datetime.now(UTC)
    return [
        Envelope.wrap(
            HouseholdRegistered(
                household_id=uuid.uuid4(),
                kelurahan_code="64.74.01.1001",
                rw=1 + i % 30,
                rt=1 + i % 20,
                address=f"Jl. Mulawarman No. {i}, Kelurahan Lok Tuan",
                head_name="Siti Rahmawati",
                registered_at=now,
            ),
            source=REGISTRY_SOURCE,
        )
        for i in range(count)
    ]


async def fill_outbox(engine: AsyncEngine, events: list[Envelope]) -> None:
    """Write the events through the real write path, a transaction per 500 (not timed)."""
    uow = UnitOfWork(engine=engine, outbox=registry_tables.outbox, on_commit=lambda: None)
    for start in range(0, len(events), OUTBOX_WRITE_BATCH):
        async with uow.begin() as tx:
            tx.publish(*events[start : start + OUTBOX_WRITE_BATCH])


async def reset_sinergi_streams(js: JetStreamContext, settings: Settings) -> None:
    for name in SINERGI_STREAMS:
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(name)
    await ensure_streams(js, settings)


async def outbox_relay(
    js: JetStreamContext, database: Database, nats_url: str, count: int
) -> float:
    """Figure 5; leaves exactly `count` events in SINERGI_EVENTS for figure 6."""
    url, schema = await database.fresh("registry")
    settings = service_settings(nats_url, url, schema)
    await upgrade("registry", settings)
    await reset_sinergi_streams(js, settings)
    engine = create_engine(url, schema=schema)
    try:
        await fill_outbox(engine, household_events(count))
        relay = OutboxRelay(
            service="registry",
            engine=engine,
            outbox=registry_tables.outbox,
            js=js,
            tracer=trace.NoOpTracerProvider().get_tracer("bench"),  # as with otel_exporter=none
            batch_size=settings.relay_batch_size,
        )

        async def drain() -> None:
            while relay.published < count:
                if await relay.relay_once() == 0:
                    raise RuntimeError(f"outbox empty after {relay.published} of {count}")

        seconds = await timed(drain)
    finally:
        await engine.dispose()
    stored = (await js.stream_info(subjects.EVENTS_STREAM)).state.messages
    if stored != count:
        raise RuntimeError(f"{subjects.EVENTS_STREAM} holds {stored} messages, expected {count}")
    return rate(count, seconds)


async def wait_for_rows(engine: AsyncEngine, count: int, *, within: float) -> None:
    query = select(func.count()).select_from(timeline_entries)
    deadline = time.perf_counter() + within
    while True:
        async with engine.connect() as conn:
            projected = await conn.scalar(query) or 0
        if projected >= count:
            return
        if time.perf_counter() > deadline:
            raise RuntimeError(f"timeline has {projected} of {count} rows after {within}s")
        await asyncio.sleep(POLL_SECONDS)


async def projection(
    database: Database, nats_url: str, count: int, figures: dict[str, Figure]
) -> None:
    """Figure 6: from starting the referrals service until its timeline has `count` rows.

    The clock includes the service's start-up (connect, declare streams, create the durable),
    because its consumer starts fetching inside `running()`; that part is reported on its own.
    The shutdown is not timed.
    """
    url, schema = await database.fresh("referrals")
    settings = service_settings(nats_url, url, schema)
    await upgrade("referrals", settings)
    runtime = build_runtime(REFERRALS, settings)
    gc.collect()
    started = time.perf_counter()
    async with running(runtime):
        ready = time.perf_counter()
        await wait_for_rows(runtime.engine, count, within=max(120.0, count / 200))
        finished = time.perf_counter()
    figures["projection"].runs.append(rate(count, finished - started))
    figures["projection_startup"].runs.append(ready - started)


async def project_paths(
    js: JetStreamContext,
    database: Database,
    nats_url: str,
    count: int,
    figures: dict[str, Figure],
) -> None:
    """Figures 5 and 6 once: the relay fills the stream the projection then reads."""
    figures["outbox_relay"].runs.append(await outbox_relay(js, database, nats_url, count))
    await projection(database, nats_url, count, figures)


# --- report -----------------------------------------------------------------------------------


def show(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:9.3f} s"
    return f"{value:>9,.0f} {unit}"


def report_text(results: dict[str, Any], figures: dict[str, Figure]) -> str:
    box = results["machine"]
    lines = [
        f"Sinergi event-log benchmark: {results['events']:,} events, "
        f"median of {results['repetitions']} repetitions",
        f"  machine   {box['cpu']}, {box['cores']} cores, {box['ram_gib']} GiB RAM",
        f"  python    {box['python']}, nats-py {box['nats_py']}, SQLAlchemy {box['sqlalchemy']}",
        f"  nats      nats-server {box['nats_server']}, file storage",
        f"  database  {box['database']}",
        f"  messages  raw {results['message_bytes']['raw']} B body; real event "
        f"{results['message_bytes']['event_data']} B body + "
        f"{results['message_bytes']['event_headers']} B headers",
        "",
    ]
    for number, figure in enumerate(figures.values(), start=1):
        if number == 1:
            lines.append("raw ceilings")
        if number == 5:
            lines.append("project paths")
        label = f"{number}. {figure.title}" if number <= 6 else f"   {figure.title}"
        spread = " / ".join(show(r, figure.unit).strip() for r in figure.runs)
        lines.append(f"  {label:<54} {show(figure.median, figure.unit)}   ({spread})")
    lines.append("ratios")
    for name, ratio in results["ratios"].items():
        verdict = "met" if ratio["met"] else "MISSED"
        lines.append(f"  {name:<54} {ratio['value']:9.2f}   goal ≥ {ratio['goal']:.2f}: {verdict}")
    return "\n".join(lines)


def message_sizes() -> dict[str, int]:
    event = household_events(1)[0]
    headers = event.attributes.to_headers()
    return {
        "raw": len(raw_messages(1)[0].data),
        "event_data": len(event.data()),
        "event_headers": sum(len(k) + len(v) + 4 for k, v in headers.items()),
    }


def write_results(results: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path


# --- main -------------------------------------------------------------------------------------


async def connect(url: str) -> NatsClient:
    # A large pending buffer so publish_async does not stall on the client's flusher.
    return await nats.connect(url, name="sinergi-bench", pending_size=64 * 1024 * 1024)


async def benchmark(count: int, database_url: str | None, repetitions: int) -> dict[str, Any]:
    figures = new_figures()
    started_at = datetime.now(UTC).isoformat()
    with tempfile.TemporaryDirectory(prefix="sinergi-bench-") as tmp:
        directory = Path(tmp)
        database = Database(database_url, directory)
        with NatsServer(store_dir=directory / "nats") as server:
            nc = await connect(server.url)
            try:
                js = nc.jetstream()
                for _ in range(repetitions):
                    await raw_ceilings(js, database, count, figures)
                    await project_paths(js, database, server.url, count, figures)
                database_version = await database.version()
            finally:
                await nc.close()
                await database.close()
    results: dict[str, Any] = {
        "started_at": started_at,
        "events": count,
        "repetitions": repetitions,
        "machine": machine(database_version),
        "message_bytes": message_sizes(),
        "settings": {
            "consumer_batch_size": CONSUMER_BATCH_SIZE,
            "relay_batch_size": Settings.model_fields["relay_batch_size"].default,
        },
        "figures": {key: figure.as_json() for key, figure in figures.items()},
    }
    results["ratios"] = ratios(figures)
    print(report_text(results, figures))
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=20_000, help="events per repetition")
    parser.add_argument(
        "--database-url",
        default=None,
        help="postgresql+asyncpg://… (a fresh schema per purpose, dropped afterwards); "
        "default: SQLite files in a temporary directory",
    )
    parser.add_argument("--repetitions", type=int, default=REPETITIONS, help="median of how many")
    args = parser.parse_args(argv)
    if args.events < 1 or args.repetitions < 1:
        parser.error("--events and --repetitions must be at least 1")
    if args.database_url and not args.database_url.startswith("postgresql+asyncpg://"):
        parser.error("--database-url must be postgresql+asyncpg://… (SQLite is the default)")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    results = asyncio.run(benchmark(args.events, args.database_url, args.repetitions))
    print(f"\nresults written to {write_results(results)}")


if __name__ == "__main__":
    main()
