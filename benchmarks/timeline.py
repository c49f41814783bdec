"""Benchmark: the case timeline — reading one household among 1,000,000 entries, and rebuilding
the timeline from JetStream — each against the raw ceiling measured in the same run.

    .venv/bin/python -m benchmarks.timeline [--rows N] [--events N] [--database-url URL]

Read: `timeline_entries` (the real migrated table) is filled with `--rows` entries spread over
`--households` households in stream order, directly with Core executemany (a read benchmark):
one household has `--target-entries` (1,000), one has `--heavy-entries` (100,000: the deep end
of keyset paging) and the rest share what remains (~45 each). Then a page of 50 of the 1,000
household, newest first and from a random keyset cursor: p50/p99 through the ASGI app with
httpx (in-process, as a request would go), through the handler's query (SQLAlchemy), and the
same SELECT on the bare driver (aiosqlite / asyncpg) — the raw ceiling.

Rebuild: `--events` real registry events are published to a real nats-server, then
`services.referrals.rebuild.rebuild_timeline` runs into an empty database and again over the
full one; beside it the raw ceilings of the same run: nats-py reading the same stream without
writing (ordered consumer with nats-py's header parser and with the rebuild's, and pull
`fetch(2000)`), decoding alone (the live projection's code, and the rebuild's `row_of`), and
inserting the same rows alone (Core executemany, and COPY on PostgreSQL). A benchmark reports
a missed goal, it never fails.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
import httpx
import nats
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.client import JetStreamContext
from sinergi_contracts import Envelope, HouseholdRegistered, MemberAdded, subjects
from sqlalchemy import insert, text

from benchmarks.event_log import add_database_url, database_version, machine, save_result
from services.referrals import handlers
from services.referrals.domain import TimelineEntry
from services.referrals.models import timeline_entries
from services.referrals.rebuild import (
    COLUMNS,
    Raw,
    Rebuilt,
    entry_of,
    plain_headers_parsed_quickly,
    rebuild_timeline,
    row_of,
)
from sinergi.catalogue import definition
from sinergi.config import Settings
from sinergi.db import create_engine
from sinergi.issuer import ensure_key, system_headers
from sinergi.migrate import upgrade
from sinergi.natsserver import NatsServer
from sinergi.service import create_service_app
from sinergi.streams import ensure_streams

# Requests carry a signed token, as every request to a service must.
KEY_FILE = ensure_key(Path(tempfile.mkdtemp(prefix="sinergi-bench-auth-")) / "issuer.pem")
AUTHORIZATION = system_headers(KEY_FILE, "bench")["Authorization"]

PAGE = 50
SELECT = (
    "SELECT event_id, household_id, stream_seq, type, source, subject, occurred_at, trace_id, "
    "data FROM timeline_entries WHERE household_id = {h} AND stream_seq > {a} "
    "ORDER BY stream_seq LIMIT {n}"
)


@dataclass
class Place:
    """Where one part of the run keeps its database."""

    database_url: str
    workdir: Path
    run: str

    @property
    def postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    def settings(self, name: str, nats_url: str = "nats://127.0.0.1:4222") -> Settings:
        if self.postgres:
            url, schema = self.database_url, f"bench_{self.run}_{name}"
        else:
            url, schema = f"sqlite+aiosqlite:///{self.workdir / f'{name}.db'}", None
        return Settings(
            database_url=url,
            database_schema=schema,
            nats_servers=[nats_url],
            environment="test",
            auth_key_file=KEY_FILE,
        )

    async def drop(self, names: list[str]) -> None:
        if not self.postgres:
            return
        engine = create_engine(self.database_url)
        async with engine.begin() as conn:
            for name in names:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "bench_{self.run}_{name}" CASCADE'))
        await engine.dispose()


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000,
        "max_ms": ordered[-1] * 1000,
    }


async def sample(action: Callable[[int], Awaitable[Any]], count: int, warmup: int) -> list[float]:
    for n in range(warmup):
        await action(n)
    times = []
    for n in range(count):
        start = time.perf_counter()
        await action(n)
        times.append(time.perf_counter() - start)
    return times


# --- (a) reading one household among a million entries ---------------------------------------


def member_json(household: str, rng: random.Random) -> str:
    born = date(2000, 1, 1) + timedelta(days=rng.randrange(9000))
    return json.dumps(
        {
            "household_id": household,
            "recorded_by": None,
            "member_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "sex": rng.choice("LP"),
            "birth_date": born.isoformat(),
            "relation": "anak",
            "working": False,
            "disability": False,
            "pregnant": False,
            "has_nik": True,
            "nik_warnings": [],
        },
        separators=(",", ":"),
    )


async def fill(
    settings: Settings, rows: int, households: int, target: int, heavy: int
) -> tuple[str, str]:
    """`rows` entries in stream order; returns (the 1,000 household, the heavy household)."""
    rng = random.Random(2026)
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(households)]
    owners = [0] * target + [1] * heavy
    owners += [2 + n % (households - 2) for n in range(rows - len(owners))]
    rng.shuffle(owners)
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    member_type = MemberAdded.ce_type()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for first in range(0, rows, 10_000):
        batch = []
        for seq in range(first + 1, min(first + 10_000, rows) + 1):
            household = ids[owners[seq - 1]]
            batch.append(
                {
                    "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    "household_id": household,
                    "stream_seq": seq,
                    "type": member_type,
                    "source": "/sinergi/registry",
                    "subject": f"sinergi.hh.{household}.registry.member_added",
                    "occurred_at": start + timedelta(seconds=seq),
                    "trace_id": f"{rng.getrandbits(128):032x}",
                    "data": member_json(household, rng),
                }
            )
        async with engine.begin() as conn:
            await conn.execute(insert(timeline_entries), batch)
    await engine.dispose()
    return ids[0], ids[1]


async def cursors(settings: Settings, household: str) -> list[int]:
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    async with engine.connect() as conn:
        seqs = (
            await conn.execute(
                text("SELECT stream_seq FROM timeline_entries WHERE household_id = :h"),
                {"h": household},
            )
        ).scalars()
        found = sorted(seqs)
    await engine.dispose()
    return [0, *found[:-PAGE]]  # every cursor that still has a full page after it


async def raw_reader(settings: Settings) -> tuple[Callable[[str, int], Awaitable[Any]], Any]:
    """The same SELECT on the bare driver: (read(household, after), close)."""
    if settings.database_url.startswith("postgresql"):
        url = settings.database_url.replace("postgresql+asyncpg", "postgresql")
        pg = await asyncpg.connect(url, server_settings={"search_path": settings.database_schema})
        statement = await pg.prepare(SELECT.format(h="$1", a="$2", n=PAGE))

        async def read_pg(household: str, after: int) -> Any:
            return await statement.fetch(household, after)

        return read_pg, pg.close
    path = settings.database_url.split("///", 1)[1]
    db = await aiosqlite.connect(path)
    sql = SELECT.format(h="?", a="?", n=PAGE)

    async def read_sqlite(household: str, after: int) -> Any:
        async with db.execute(sql, (household, after)) as cursor:
            return await cursor.fetchall()

    return read_sqlite, db.close


async def asgi_get(app: Any, household: str, query: str) -> None:
    """One request straight into the ASGI app, as uvicorn would hand it over (no client)."""
    path = f"/households/{household}/timeline"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"referrals"), (b"authorization", AUTHORIZATION.encode())],
        "client": ("127.0.0.1", 40000),
        "server": ("referrals", 80),
        "state": {},
    }
    asked = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    if status != 200:
        raise RuntimeError(f"unexpected status {status}")


async def read_benchmark(place: Place, args: argparse.Namespace) -> dict[str, Any]:
    settings = place.settings("read")
    await upgrade("referrals", settings)
    started = time.perf_counter()
    target, heavy = await fill(
        settings, args.rows, args.households, args.target_entries, args.heavy_entries
    )
    filled = time.perf_counter() - started
    rng = random.Random(7)
    marks = {name: await cursors(settings, h) for name, h in (("target", target), ("heavy", heavy))}
    households = {"target": target, "heavy": heavy}

    def after(name: str) -> int:
        return rng.choice(marks[name])

    # As `sinergi serve` does after start-up: what lives on is not scanned by every full GC.
    gc.collect()
    gc.freeze()

    figures: dict[str, Any] = {}
    read, close = await raw_reader(settings)
    for name in households:

        async def driver(_: int, n: str = name) -> Any:
            return await read(households[n], after(n))

        figures[f"raw_driver_{name}"] = percentiles(await sample(driver, args.samples, args.warmup))
    await close()

    engine = create_engine(settings.database_url, schema=settings.database_schema)
    for name in households:

        async def query(_: int, n: str = name) -> Any:
            return await handlers.household_timeline(
                engine, household_id=households[n], after=after(n), limit=PAGE
            )

        figures[f"handler_query_{name}"] = percentiles(
            await sample(query, args.samples, args.warmup)
        )
    await engine.dispose()

    app = create_service_app(definition("referrals"), settings)
    for name, household in households.items():

        async def through_app(_: int, h: Any = household, n: str = name) -> Any:
            return await asgi_get(app, h, f"after={after(n)}&limit={PAGE}")

        figures[f"asgi_keyset_{name}"] = percentiles(
            await sample(through_app, args.samples, args.warmup)
        )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://referrals", headers={"Authorization": AUTHORIZATION}
    ) as client:

        async def get(params: dict[str, Any], household: str) -> None:
            response = await client.get(f"/households/{household}/timeline", params=params)
            if response.status_code != 200 or len(response.json()["entries"]) != PAGE:
                raise RuntimeError(f"unexpected answer: {response.status_code} {response.text}")

        for name, household in households.items():

            async def over_http(_: int, h: str = household, n: str = name) -> None:
                await get({"after": after(n), "limit": PAGE}, h)

            figures[f"http_keyset_{name}"] = percentiles(
                await sample(over_http, args.samples, args.warmup)
            )
        figures["http_newest_first_target"] = percentiles(
            await sample(
                lambda _: get({"order": "desc", "limit": PAGE}, target),
                args.samples,
                args.warmup,
            )
        )
    await app.state.runtime.engine.dispose()
    return {
        "rows": args.rows,
        "households": args.households,
        "target_entries": args.target_entries,
        "heavy_entries": args.heavy_entries,
        "fill_seconds": filled,
        "samples": args.samples,
        "latency": figures,
    }


# --- (b) rebuilding from the stream -------------------------------------------------------------


def wire_events(first: int, count: int) -> list[Envelope]:
    """Real registry events, as households are registered and their members added."""
    rng = random.Random(first)
    envelopes = []
    for n in range(first, first + count):
        household = uuid.UUID(int=n // 4 + 1)
        traceparent = f"00-{rng.getrandbits(128):032x}-{rng.getrandbits(64):016x}-01"
        event: HouseholdRegistered | MemberAdded
        if n % 4 == 0:
            event = HouseholdRegistered(
                household_id=household,
                kelurahan_code="64.74.01.1003",
                rw=1 + n % 20,
                rt=1 + n % 30,
                address=f"Jl. Pupuk Raya Gg. Mawar No. {n}",
                head_name=f"Kepala Keluarga {n}",
                registered_at=datetime.now(UTC),
            )
        else:
            event = MemberAdded(
                household_id=household,
                member_id=uuid.uuid4(),
                sex="P",
                birth_date=date(2010, 1, 1) + timedelta(days=n % 4000),
                relation="anak",
                working=False,
                disability=False,
                pregnant=False,
                has_nik=True,
            )
        envelopes.append(Envelope.wrap(event, source="/sinergi/registry", traceparent=traceparent))
    return envelopes


async def publish(js: JetStreamContext, events: int) -> float:
    start = time.perf_counter()
    for first in range(0, events, 5_000):
        pending = []
        for envelope in wire_events(first, min(5_000, events - first)):
            headers = envelope.attributes.to_headers()
            pending.append(
                await js.publish_async(envelope.nats_subject, envelope.data(), headers=headers)
            )
            if len(pending) == 1000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    return events / (time.perf_counter() - start)


async def raw_ordered_read(js: JetStreamContext, events: int) -> float:
    """nats-py ordered consumer, callback counting: the reading the rebuild does, no work."""
    done = asyncio.Event()
    seen = 0

    async def count(_: Any) -> None:
        nonlocal seen
        seen += 1
        if seen == events:
            done.set()

    start = time.perf_counter()
    sub = await js.subscribe(
        f"{subjects.PREFIX}.hh.>", stream=subjects.EVENTS_STREAM, ordered_consumer=True, cb=count
    )
    await done.wait()
    elapsed = time.perf_counter() - start
    await sub.unsubscribe()
    return events / elapsed


async def raw_fetch(js: JetStreamContext, events: int) -> tuple[float, list[Raw]]:
    """nats-py pull consumer (ephemeral, no acks), fetch(2000); also keeps the messages to
    measure decoding and inserting alone."""
    sub = await js.pull_subscribe(
        f"{subjects.PREFIX}.hh.>",
        stream=subjects.EVENTS_STREAM,
        config=ConsumerConfig(ack_policy=AckPolicy.NONE, mem_storage=True),
    )
    raw: list[Raw] = []
    start = time.perf_counter()
    while len(raw) < events:
        for msg in await sub.fetch(2000, timeout=10):
            raw.append((msg.headers, msg.data, msg.subject, msg.metadata.sequence.stream))
    elapsed = time.perf_counter() - start
    await sub.unsubscribe()
    return events / elapsed, raw


async def raw_insert(settings: Settings, entries: list[TimelineEntry]) -> float:
    """Core executemany of the same rows into an empty timeline table, 2000 a transaction."""
    await upgrade("referrals", settings)
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    start = time.perf_counter()
    for first in range(0, len(entries), 2000):
        async with engine.begin() as conn:
            await conn.execute(
                insert(timeline_entries), [vars(e) for e in entries[first : first + 2000]]
            )
    elapsed = time.perf_counter() - start
    await engine.dispose()
    return len(entries) / elapsed


async def raw_copy(settings: Settings, entries: list[TimelineEntry]) -> float:
    """PostgreSQL COPY of the same rows into an empty timeline table, 2000 a COPY."""
    await upgrade("referrals", settings)
    url = settings.database_url.replace("postgresql+asyncpg", "postgresql")
    pg = await asyncpg.connect(url, server_settings={"search_path": settings.database_schema})
    start = time.perf_counter()
    for first in range(0, len(entries), 2000):
        await pg.copy_records_to_table(
            "timeline_entries",
            records=[tuple(getattr(e, c) for c in COLUMNS) for e in entries[first : first + 2000]],
            columns=COLUMNS,
        )
    elapsed = time.perf_counter() - start
    await pg.close()
    return len(entries) / elapsed


async def rebuild_benchmark(place: Place, args: argparse.Namespace) -> dict[str, Any]:
    with NatsServer(store_dir=place.workdir / "nats") as server:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        try:
            settings = place.settings("rebuild", server.url)
            await ensure_streams(js, settings)
            published = await publish(js, args.events)
            ordered = statistics.median([await raw_ordered_read(js, args.events) for _ in "ab"])
            with plain_headers_parsed_quickly(js):  # as the rebuild reads
                quick = statistics.median([await raw_ordered_read(js, args.events) for _ in "ab"])
            fetched, raw = await raw_fetch(js, args.events)
            start = time.perf_counter()
            entries = [e for e in (entry_of(*m) for m in raw) if e is not None]
            decoded = len(raw) / (time.perf_counter() - start)
            start = time.perf_counter()
            rows = [r for r in (row_of(*m) for m in raw) if r is not None]
            decoded_rows = len(raw) / (time.perf_counter() - start)
            del raw, rows
            inserted = await raw_insert(place.settings("raw_insert"), entries)
            copied = await raw_copy(place.settings("raw_copy"), entries) if place.postgres else None
            del entries
            await upgrade("referrals", settings)
            empty: Rebuilt = await rebuild_timeline(settings, js)
            full: Rebuilt = await rebuild_timeline(settings, js)
        finally:
            await nc.close()
    figures = {
        "raw_nats_ordered_consumer": ordered,
        "raw_ordered_rebuild_headers": quick,
        "raw_nats_pull_fetch_2000": fetched,
        "decode_only": decoded,
        "decode_rebuild_rows": decoded_rows,
        "raw_insert_executemany": inserted,
        "rebuild_into_empty": empty.per_second,
        "rebuild_over_identical": full.per_second,
    }
    if copied is not None:
        figures["raw_copy"] = copied
    return {
        "events": args.events,
        "published_per_second": published,
        "per_second": figures,
        "swap_seconds": {"empty": empty.swap_seconds, "identical": full.swap_seconds},
        "changed": {"empty": [empty.removed, empty.added], "identical": [full.removed, full.added]},
    }


# --- the run --------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as workdir:
        place = Place(args.database_url, Path(workdir), uuid.uuid4().hex[:6])
        try:
            read = await read_benchmark(place, args) if not args.skip_read else None
            rebuilt = await rebuild_benchmark(place, args) if not args.skip_rebuild else None
        finally:
            await place.drop(["read", "rebuild", "raw_insert", "raw_copy"])
    return {
        "machine": machine(args.database_url)
        | {"database_version": await database_version(args.database_url)},
        "read": read,
        "rebuild": rebuilt,
    }


def report(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}",
        f"         {m['nats_server']}, {m['database_version']}",
    ]
    read = result["read"]
    if read:
        lines += [
            "",
            f"read: a page of {PAGE}; {read['rows']:,} entries over {read['households']:,} "
            f"households (filled in {read['fill_seconds']:.0f} s); target household "
            f"{read['target_entries']:,} entries, heavy household {read['heavy_entries']:,}; "
            f"{read['samples']} samples each",
        ]
        for name, figure in read["latency"].items():
            lines.append(
                f"  {name:<28} p50 {figure['p50_ms']:6.2f} ms   p99 {figure['p99_ms']:6.2f} ms"
                f"   max {figure['max_ms']:6.2f} ms"
            )
        p99 = read["latency"]["http_keyset_target"]["p99_ms"]
        lines.append(f"  goal: HTTP p99 < 10 ms → {p99:.2f} ms")
    rebuilt = result["rebuild"]
    if rebuilt:
        figures = rebuilt["per_second"]
        lines += [
            "",
            f"rebuild: {rebuilt['events']:,} events in SINERGI_EVENTS "
            f"(published at {rebuilt['published_per_second']:,.0f}/s)",
        ]
        for name, value in figures.items():
            lines.append(f"  {name:<28} {value:>10,.0f} events/s")
        ceiling = figures["raw_nats_ordered_consumer"]
        lines += [
            f"  swap transaction: {rebuilt['swap_seconds']['empty']:.2f} s into empty, "
            f"{rebuilt['swap_seconds']['identical']:.2f} s over identical "
            f"(removed/added {rebuilt['changed']['identical']})",
            f"  rebuild / raw ordered read        {figures['rebuild_into_empty'] / ceiling:.2f}",
            f"  rebuild / ordered read as rebuild "
            f"{figures['rebuild_into_empty'] / figures['raw_ordered_rebuild_headers']:.2f}",
            f"  goal: ≥ 20,000 events/s → {figures['rebuild_into_empty']:,.0f}",
        ]
    return "\n".join(lines)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--households", type=int, default=20_000)
    parser.add_argument("--target-entries", type=int, default=1_000)
    parser.add_argument("--heavy-entries", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=2_000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--skip-read", action="store_true")
    parser.add_argument("--skip-rebuild", action="store_true")
    add_database_url(parser)
    args = parser.parse_args()
    result = asyncio.run(main(args))
    print(report(result))
    save_result(result, "timeline")


if __name__ == "__main__":
    cli()
