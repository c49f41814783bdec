"""Benchmark: the registry's duplicate review queue, end to end, on the demo data.

    .venv/bin/python -m benchmarks.duplicate_queue [--households 50000] [--database-url URL]

Generates the demo data (`services.registry.demo.generate`: 2% of the households get a planted
second record of one of their kelurahan's people, without NIK and with typos), imports it into
a fresh registry database with the bulk import (which queues every member for the scanner, as
in the field), then runs the registry's own scanner (`duplicates.scan_pending`) until the queue
is empty. Reported: the scan time, the candidates the officers would review, and precision and
recall against the planted pairs (goal >= 0.95 each). The matcher alone, without the database,
is `benchmarks.duplicates`.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks.event_log import machine
from services.registry import demo, duplicates
from services.registry.demo_load import member_key
from services.registry.imports import import_file
from services.registry.models import duplicate_candidates, households, members, tables
from sinergi.config import Settings
from sinergi.db import create_engine
from sinergi.migrate import upgrade
from sinergi.outbox import UnitOfWork

GOAL = 0.95


async def run(households: int, seed: int, database_url: str | None) -> None:
    data = demo.generate(households=households, seed=seed)
    with tempfile.TemporaryDirectory() as folder:
        url = database_url or f"sqlite+aiosqlite:///{folder}/registry.db"
        schema = f"bench_{uuid.uuid4().hex[:8]}" if url.startswith("postgresql") else None
        settings = Settings(
            database_url=url, database_schema=schema, nats_servers=["nats://127.0.0.1:1"]
        )
        await upgrade("registry", settings)
        engine = create_engine(url, schema=schema)
        uow = UnitOfWork(engine=engine, outbox=tables.outbox, on_commit=lambda: None)
        try:
            path = Path(folder) / "demo.csv"
            demo.write_csv(data, path)
            started = time.perf_counter()
            await import_file(uow, engine, path, filename=path.name)
            imported = time.perf_counter() - started
            started = time.perf_counter()
            checked = 0
            while report := await duplicates.scan_pending(uow, engine):
                if not report.checked:
                    break
                checked += report.checked
            scanned = time.perf_counter() - started
            await _score(engine, data, imported, scanned, checked)
        finally:
            if schema:
                async with engine.begin() as conn:
                    await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            await engine.dispose()


async def _score(
    engine: AsyncEngine, data: demo.DemoData, imported: float, scanned: float, checked: int
) -> None:
    demo_ids: dict[tuple[str, str, date], str] = {}
    async with engine.connect() as conn:
        by_kk = dict((await conn.execute(select(households.c.no_kk, households.c.id))).all())
        registry_ids = {
            member_key(h, n, b): m
            for h, n, b, m in await conn.execute(
                select(members.c.household_id, members.c.name, members.c.birth_date, members.c.id)
            )
        }
        found = {
            (left, right)
            for left, right in await conn.execute(
                select(
                    duplicate_candidates.c.left_member_id, duplicate_candidates.c.right_member_id
                )
            )
        }
    for h in data.households:
        for m in h.members:
            demo_ids[member_key(by_kk[h.no_kk], m.name, m.birth_date)] = m.id
    to_demo = {registry: demo_ids[key] for key, registry in registry_ids.items()}
    found_demo = {tuple(sorted((to_demo[a], to_demo[b]))) for a, b in found}
    planted = data.planted_pairs()
    hits = len(found_demo & planted)
    precision = hits / len(found_demo) if found_demo else 0.0
    recall = hits / len(planted) if planted else 0.0
    box = machine(str(engine.url))
    print(
        f"machine: {box['cpu']}, {box['cores']} cores, {box['memory_gib']} GiB, "
        f"Python {box['python']}"
    )
    print(f"database: {engine.url.drivername}")
    print(
        f"demo data: {len(data.households):,} households, {data.member_count:,} people, "
        f"{len(planted):,} planted pairs (seed {data.seed})"
    )
    print(f"import (queues every member): {imported:.1f} s")
    print(f"scan: {checked:,} members checked in {scanned:.1f} s ({checked / scanned:,.0f}/s)")
    print(f"candidates in the review queue: {len(found):,}")
    verdict = "goal met" if min(precision, recall) >= GOAL else "GOAL MISSED"
    print(f"precision {precision:.3f}  recall {recall:.3f}  (goal >= {GOAL}: {verdict})")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--households", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    asyncio.run(run(args.households, args.seed, args.database_url))


if __name__ == "__main__":
    cli()
