"""Benchmark: command → event visible in the shared case timeline, at a steady rate.

    .venv/bin/python -m benchmarks.command_latency [--rate 200] [--seconds 30] [--database-url URL]

Starts a real nats-server and the registry and referrals services as their own processes
(`sinergi serve`, as `sinergi up` runs them), then sends commands over HTTP at a steady rate
(open loop: one every 1/rate seconds whether or not the last one answered): a Ketua RT
registering a household. For each, the latency is from sending the request to the moment its
`household_registered` entry is in the referrals service's timeline table: HTTP, the
registry's transaction with its outbox row, the relay, JetStream, the referrals consumer's
batch transaction. The table is read every 2 ms with the bare driver and requests go out over
a lean keep-alive client, so that the load generator leaves the two cores to what it measures.
Goal: p99 < 50 ms at 200 commands/s.

The raw ceiling, same run and rate: a JetStream publish received by a push consumer and
inserted into the same kind of database (no HTTP, no outbox, no service).
A benchmark, not a test: a missed goal is reported, never failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import nats
from sqlalchemy import Column, Float, MetaData, String, Table, insert, text

from benchmarks.event_log import database_version, machine, save_result
from sinergi.auth import Principal, Role
from sinergi.db import create_engine
from sinergi.issuer import ensure_key, issue
from sinergi.natsauth import embedded_users
from sinergi.natsserver import NatsServer, free_port
from sinergi.up import RunningService, issuer_key_file, service_env, wait_ready

GOAL_P99_MS = 50.0
LOK_TUAN = "64.74.01.1003"


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "n": len(ordered),
        "p50": statistics.median(ordered),
        "p90": at(0.90),
        "p99": at(0.99),
        "max": ordered[-1],
    }


async def until(done: Callable[[], bool], within: float = 30.0) -> None:
    for _ in range(int(within / 0.05)):
        if done():
            return
        await asyncio.sleep(0.05)


def schema_for(folder: Path, service: str) -> str:
    """The PostgreSQL schema `start` gives `service` run from `folder`."""
    return f"{folder.name}_{service}".lower()


def bearer(folder: Path, role: Role, subject: str = "bench", **scope: Any) -> dict[str, str]:
    """A token from the issuer key `start` gives the services run from `folder`."""
    signed = issue(ensure_key(issuer_key_file(folder)), Principal(subject, role, **scope))
    return {"Authorization": f"Bearer {signed}"}


def start(name: str, folder: Path, server: NatsServer, database_url: str | None) -> RunningService:
    port = free_port()
    password = server.password_of(name)
    env = service_env(name, data_dir=folder, nats_url=server.url, port=port, nats_password=password)
    env["SINERGI_LOG_LEVEL"] = "WARNING"
    if database_url:
        env["SINERGI_DATABASE_URL"] = database_url
        env["SINERGI_DATABASE_SCHEMA"] = schema_for(folder, name)
    process = subprocess.Popen(
        [sys.executable, "-m", "sinergi.cli", "serve", name, "--migrate"],
        env=env,
        stdin=subprocess.DEVNULL,
    )
    service = RunningService(name=name, port=port, process=process)
    wait_ready(service)
    return service


class LeanClient:
    """HTTP/1.1 over kept-alive asyncio streams: JSON POSTs, nothing else.

    The load generator shares two cores with the services it measures; httpx costs about a
    millisecond of CPU a request, which at 200/s took most of a core from them.
    """

    def __init__(self, url: str) -> None:
        parsed = httpx.URL(url)
        self.host, self.port = parsed.host, parsed.port or 80
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened: list[asyncio.StreamWriter] = []

    async def post(self, path: str, body: bytes, head: str) -> tuple[int, bytes]:
        """POST `body` with the extra header lines `head` ("Name: value\\r\\n" each)."""
        while self.idle:
            reader, writer = self.idle.pop()
            try:
                return await self._send(reader, writer, path, body, head)
            except (ConnectionError, asyncio.IncompleteReadError):
                # The server closed it while idle (keep-alive timeout) before reading it.
                writer.close()
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self.opened.append(writer)
        return await self._send(reader, writer, path, body, head)

    async def _send(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        path: str,
        body: bytes,
        head: str,
    ) -> tuple[int, bytes]:
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"{head}Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        answer = await reader.readuntil(b"\r\n\r\n")
        status = int(answer[9:12])
        length = 0
        for line in answer.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        data = await reader.readexactly(length)
        if b"connection: close" in answer.lower():
            writer.close()
        else:
            self.idle.append((reader, writer))
        return status, data

    async def close(self) -> None:
        for writer in self.opened:
            writer.close()


async def commands(
    urls: list[str],
    folder: Path,
    rate: float,
    seconds: float,
    *,
    first_kk: int = 0,
    answered: list[float] | None = None,
) -> dict[str, float]:
    """Register households at `rate`/s, in turn at each of `urls` (as a load balancer would);
    returns household id → send time (perf_counter), and adds each answer's delay (ms) to
    `answered`. Each household is registered by its own RT's head, with that RT's token (60
    RTs in turn: a few commands a second each, well within a token's rate limit)."""
    sent: dict[str, float] = {}
    failures: Counter[str] = Counter()
    clients = [LeanClient(url) for url in urls]
    heads: dict[tuple[int, int], str] = {}

    def head_of(rw: int, rt: int) -> str:
        if (rw, rt) not in heads:
            token = bearer(folder, Role.RT, f"ketua-rt-{rw}-{rt}", kelurahan=LOK_TUAN, rw=rw, rt=rt)
            heads[rw, rt] = f"Authorization: {token['Authorization']}\r\n"
        return heads[rw, rt]

    async def one(n: int) -> None:
        rw, rt = 1 + n % 12, 1 + n % 30
        body = {
            "no_kk": f"6474019{first_kk + n:09d}",
            "kelurahan_code": LOK_TUAN,
            "rw": rw,
            "rt": rt,
            "address": f"Jl. Pupuk Raya Gg. Mawar No. {n}",
            "head_name": "Siti Aminah",
        }
        began = time.perf_counter()
        try:
            client = clients[n % len(clients)]
            status, data = await client.post(
                "/households", json.dumps(body).encode(), head_of(rw, rt)
            )
        except (OSError, asyncio.IncompleteReadError) as error:  # counted: an open-loop load
            failures[type(error).__name__] += 1
            return
        if answered is not None:
            answered.append((time.perf_counter() - began) * 1000)
        if status == 201:
            sent[json.loads(data)["id"]] = began
        else:
            failures[str(status)] += 1

    tasks = []
    first = time.perf_counter()
    total = int(rate * seconds)
    try:
        for n in range(total):
            await asyncio.sleep(max(0.0, first + n / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(n)))
        await asyncio.gather(*tasks)
    finally:
        for client in clients:
            await client.close()
    if failures:
        print(f"  {sum(failures.values())} commands failed: {dict(failures)}", flush=True)
    return sent


def watch_sqlite(path: Path, seen: dict[str, float], stop: threading.Event) -> None:
    """Every 2 ms, the timeline entries added since the last look (a thread, plain sqlite3:
    SQLAlchemy and the event loop would take the services' CPU at this polling rate)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        last = 0
        while not stop.is_set():
            try:
                rows = db.execute(
                    "SELECT household_id, stream_seq FROM timeline_entries"
                    " WHERE stream_seq > ? ORDER BY stream_seq",
                    (last,),
                ).fetchall()
            except sqlite3.OperationalError:  # not migrated yet, or busy for a moment
                rows = []
            now = time.perf_counter()
            for household_id, seq in rows:
                seen.setdefault(household_id, now)
                last = seq
            time.sleep(0.002)


async def watch_postgres(
    database_url: str, schema: str, seen: dict[str, float], stop: asyncio.Event
) -> None:
    """The same on PostgreSQL, with asyncpg itself."""
    import asyncpg

    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    last = 0
    try:
        while not stop.is_set():
            rows = await conn.fetch(
                f'SELECT household_id, stream_seq FROM "{schema}".timeline_entries'
                " WHERE stream_seq > $1 ORDER BY stream_seq",
                last,
            )
            now = time.perf_counter()
            for household_id, seq in rows:
                seen.setdefault(household_id, now)
                last = seq
            await asyncio.sleep(0.002)
    finally:
        await conn.close()


async def service_path(
    folder: Path,
    server: NatsServer,
    database_url: str | None,
    rate: float,
    seconds: float,
    replicas: int = 1,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Command → timeline, and command → HTTP answer."""
    # Replicas start one after the other: the first migrates the schema.
    names = ["registry"] * replicas + ["referrals"]
    services = [start(name, folder, server, database_url) for name in names]
    try:
        urls = [service.url for service in services[:replicas]]
        seen: dict[str, float] = {}
        stop, stopped = asyncio.Event(), threading.Event()
        if database_url:
            schema = schema_for(folder, "referrals")
            watcher = asyncio.create_task(watch_postgres(database_url, schema, seen, stop))
        else:
            watcher = asyncio.create_task(
                asyncio.to_thread(watch_sqlite, folder / "referrals.db", seen, stopped)
            )
        await commands(urls, folder, rate / 4, 3)  # warm-up: connections, caches, tokens
        answered: list[float] = []
        pids = {f"{s.name}:{s.process.pid}": s.process.pid for s in services}
        before, checkpoints = cpu_seconds(), await checkpoints_so_far(database_url)
        sent = await commands(urls, folder, rate, seconds, first_kk=100_000, answered=answered)
        await until(lambda: len(seen.keys() & sent.keys()) == len(sent))
        cpu = cpu_share(before, cpu_seconds(), pids, time.perf_counter() - min(sent.values()))
        checkpoints = await checkpoints_so_far(database_url) - checkpoints
        stop.set()
        stopped.set()
        await watcher
        missing = len(sent.keys() - seen.keys())
        if missing:
            print(f"  {missing} events never reached the timeline within 30 s", flush=True)
        visible: dict[str, Any] = percentiles(
            [(seen[h] - sent[h]) * 1000 for h in sent if h in seen]
        )
        windows = {"p99_by_window": by_window(sent, seen), "checkpoints": checkpoints}
        return visible | windows, percentiles(answered) | {"cpu": cpu}
    finally:
        for service in services:
            service.process.terminate()
        for service in services:
            service.process.wait(timeout=30)


WINDOW_SECONDS = 10.0


def by_window(sent: dict[str, float], seen: dict[str, float]) -> list[float]:
    """p99 of the commands sent in each 10-second window: a tail that grows as the run goes on
    points at something that accumulates (a table, a queue), a spike at one moment does not."""
    start = min(sent.values())
    windows: dict[int, list[float]] = {}
    for household, began in sent.items():
        if household in seen:
            window = int((began - start) // WINDOW_SECONDS)
            windows.setdefault(window, []).append((seen[household] - began) * 1000)
    return [round(percentiles(windows[w])["p99"], 1) for w in sorted(windows)]


async def checkpoints_so_far(database_url: str | None) -> int:
    """PostgreSQL's checkpoints since its statistics were reset: one during the run flushes
    data files, and commits that wait for the WAL on the same disk wait longer meanwhile."""
    if not database_url:
        return 0
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        done = await conn.scalar(
            text("SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter")
        )
    await engine.dispose()
    return int(done or 0)


def cpu_seconds() -> dict[int, tuple[str, float]]:
    """Every process's name and CPU seconds so far (user + system, from /proc/PID/stat)."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            text_ = stat.read_text()
            name = text_[text_.index("(") + 1 : text_.rindex(")")]
            fields = text_[text_.rindex(")") + 2 :].split()
            found[int(stat.parent.name)] = (name, (int(fields[11]) + int(fields[12])) / tick)
    return found


def cpu_share(
    before: dict[int, tuple[str, float]],
    after: dict[int, tuple[str, float]],
    services: dict[str, int],
    elapsed: float,
) -> dict[str, float]:
    """Percent of one core each used over `elapsed`: the services by name, the benchmark
    itself, and every other process grouped by its name (postgres, nats-server, …)."""
    label = {pid: name for name, pid in services.items()} | {os.getpid(): "benchmark"}
    used: dict[str, float] = defaultdict(float)
    for pid, (name, seconds) in after.items():
        used[label.get(pid, name)] += seconds - before.get(pid, (name, 0.0))[1]
    return {
        name: round(100 * s / elapsed, 1)
        for name, s in sorted(used.items(), key=lambda kv: -kv[1])
        if s > 0.01 * elapsed
    }


async def raw_path(
    folder: Path, nats_url: str, database_url: str | None, rate: float, seconds: float
) -> dict[str, float]:
    """A JetStream publish, received by a push consumer and inserted into the database."""
    url = database_url or f"sqlite+aiosqlite:///{(folder / 'raw.db').as_posix()}"
    schema = schema_for(folder, "raw") if database_url else None
    engine = create_engine(url, schema=schema)
    metadata = MetaData()
    table = Table("raw_latency", metadata, Column("id", String(36), primary_key=True),
                  Column("sent", Float))  # fmt: skip
    async with engine.begin() as conn:
        if schema:
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        await conn.run_sync(metadata.create_all)
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    name = f"RAW_{uuid.uuid4().hex[:8]}"
    await js.add_stream(name=name, subjects=[f"raw.{name}.>"])
    latencies: list[float] = []

    async def received(msg: Any) -> None:
        async with engine.begin() as conn:
            await conn.execute(insert(table).values(id=msg.headers["id"], sent=0.0))
        latencies.append((time.perf_counter() - float(msg.headers["t"])) * 1000)
        await msg.ack()

    sub = await js.subscribe(f"raw.{name}.>", cb=received, manual_ack=True)
    try:
        first = time.perf_counter()
        total = int(rate * seconds)
        for n in range(total):
            await asyncio.sleep(max(0.0, first + n / rate - time.perf_counter()))
            key = str(uuid.uuid4())
            headers = {"id": key, "t": repr(time.perf_counter()), "Nats-Msg-Id": key}
            await js.publish(f"raw.{name}.x", b"{}", headers=headers)
        await until(lambda: len(latencies) == total)
    finally:
        await sub.unsubscribe()
        await nc.close()
        if schema:
            async with engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await engine.dispose()
    return percentiles(latencies)


async def drop_schemas(database_url: str, folder: Path) -> None:
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        for name in ("registry", "referrals"):
            # Named as `start` named it (lower case: the temporary folder's name is not).
            schema = schema_for(folder, name)
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await engine.dispose()


async def main(rate: float, seconds: float, database_url: str | None, replicas: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench_") as tmp:
        folder = Path(tmp)
        # Secured as `sinergi up` secures it: each service connects as its own NATS user.
        users = embedded_users(folder / "nats-users.json")
        with NatsServer(store_dir=folder / "nats", users=users) as server:
            raw = await raw_path(folder, server.client_url(), database_url, rate, seconds)
            path, answer = await service_path(folder, server, database_url, rate, seconds, replicas)
        if database_url:
            await drop_schemas(database_url, folder)
    m = machine(database_url or "sqlite")
    m["database_version"] = await database_version(database_url or "sqlite")
    print(f"machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}")
    print(f"{m['nats_server']}; database {m['database_version']}")
    print(f"rate {rate:.0f} commands/s for {seconds:.0f} s; registry replicas: {replicas}")

    def line(label: str, p: dict[str, float]) -> str:
        return (
            f"  {label:<44} n={p['n']:>6.0f}  p50 {p['p50']:6.1f} ms  p90 {p['p90']:6.1f} ms  "
            f"p99 {p['p99']:6.1f} ms  max {p['max']:6.1f} ms"
        )

    print(line("raw: JetStream publish → consume + insert", raw))
    print(line("command → HTTP answer (201)", answer))
    print(line("command → household_registered in timeline", path))
    print(f"  p99 by {WINDOW_SECONDS:.0f} s window: {path['p99_by_window']} ms", end="")
    print(f"; PostgreSQL checkpoints meanwhile: {path['checkpoints']}" if database_url else "")
    print("  CPU, % of a core: " + ", ".join(f"{k} {v}" for k, v in answer["cpu"].items()))
    verdict = "goal met" if path["p99"] < GOAL_P99_MS else "GOAL MISSED"
    print(f"  goal p99 < {GOAL_P99_MS:.0f} ms: {verdict}")
    save_result(
        {
            "machine": m,
            "rate": rate,
            "seconds": seconds,
            "replicas": replicas,
            "raw": raw,
            "answer": answer,
            "command": path,
        },
        "command",
    )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--database-url", default=os.environ.get("SINERGI_BENCH_DATABASE_URL"))
    parser.add_argument(
        "--registry-replicas", type=int, default=1, help="PostgreSQL only: registry processes"
    )
    args = parser.parse_args()
    if args.registry_replicas > 1 and not args.database_url:
        parser.error("replicas need PostgreSQL: a SQLite file has one service process")
    asyncio.run(main(args.rate, args.seconds, args.database_url, args.registry_replicas))


if __name__ == "__main__":
    cli()
