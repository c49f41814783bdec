"""Benchmark: webhook delivery latency, and that a slow endpoint does not move the others.

    .venv/bin/python -m benchmarks.webhooks [--rate 200] [--seconds 30] [--database-url URL]

Delivery rows are committed at a steady rate (open loop, one transaction each, as the fan-out
would leave them) for ten healthy endpoints and, in the second run, also for one slow
endpoint that answers after 2 s; the slow one takes 1/11 of `--rate`, the healthy ones the
same 10/11 in both runs. The sender (`services.notifications.sending.Sender`, default settings:
4 in flight per endpoint, 10 s timeout) runs in this process; the receivers are one uvicorn
process of their own that notes when each webhook-id arrives. Latency: the row's created_at
(just before its commit) to its arrival at the receiver, for the healthy endpoints: p50/p99
without and with the slow endpoint. Its lane fills and its backlog grows; the healthy p99
should not move.

The raw ceiling, same run and rate: the same receivers hit directly by httpx (no database,
no signing, no sender), latency from sending to arrival.
A benchmark, not a test: a missed goal is reported, never failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import func, insert, select, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from benchmarks.command_latency import percentiles
from benchmarks.event_log import machine, save_result
from services.notifications import sending
from services.notifications.models import deliveries, subscriptions
from services.notifications.subscriptions import new_secret
from sinergi.config import Settings
from sinergi.db import create_engine
from sinergi.migrate import upgrade
from sinergi.natsserver import free_port, wait_for_port

HEALTHY = 10
SLOW_SECONDS = 2.0
# The healthy p99 with the slow endpoint may exceed the one without by this much and still be
# "does not move" (run-to-run noise of a shared machine).
MOVE_TOLERANCE_MS = 10.0
PAYLOAD = json.dumps(
    {
        "type": "id.sinergi.referrals.referral_requested.v1",
        "timestamp": "2026-11-29T05:00:00Z",
        "data": {"referral_id": "00000000-0000-0000-0000-000000000000", "programme": "x" * 200},
    }
)


# --- the receivers (their own process) ------------------------------------------------------


def receivers() -> Starlette:
    arrivals: dict[str, float] = {}

    async def hook(request: Request) -> Response:
        arrivals[request.headers.get("webhook-id", "")] = time.time()
        await request.body()
        if request.path_params["name"] == "slow":
            await asyncio.sleep(SLOW_SECONDS)
        return Response(status_code=204)

    async def arrived(_: Request) -> JSONResponse:
        return JSONResponse(arrivals)

    async def forget(_: Request) -> Response:
        arrivals.clear()
        return Response(status_code=204)

    return Starlette(
        routes=[
            Route("/hooks/{name}", hook, methods=["POST"]),
            Route("/arrivals", arrived, methods=["GET"]),
            Route("/arrivals", forget, methods=["DELETE"]),
        ]
    )


def serve_receivers(port: int) -> None:
    uvicorn.run(receivers(), host="127.0.0.1", port=port, log_level="warning", access_log=False)


# --- the runs -------------------------------------------------------------------------------


def targets(port: int, with_slow: bool) -> list[str]:
    names = [f"agency{n}" for n in range(HEALTHY)] + (["slow"] if with_slow else [])
    return [f"http://127.0.0.1:{port}/hooks/{name}" for name in names]


async def arrivals(port: int) -> dict[str, float]:
    async with httpx.AsyncClient() as client:
        found: dict[str, float] = (await client.get(f"http://127.0.0.1:{port}/arrivals")).json()
        await client.delete(f"http://127.0.0.1:{port}/arrivals")
    return found


def settings_for(database_url: str | None, folder: Path, run: str) -> Settings:
    if database_url:
        url, schema = database_url, f"bench_{run}_notifications"
    else:
        url, schema = f"sqlite+aiosqlite:///{folder / run}.db", None
    # The sender talks to no NATS server; the setting is required all the same.
    return Settings(database_url=url, database_schema=schema, nats_servers=["nats://127.0.0.1:1"])


async def sender_path(
    port: int, folder: Path, database_url: str | None, rate: float, seconds: float, slow: bool
) -> dict[str, Any]:
    run = f"w{uuid.uuid4().hex[:8]}"
    settings = settings_for(database_url, folder, run)
    await upgrade("notifications", settings)
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    urls = targets(port, slow)
    subs: list[tuple[str, str]] = []
    async with engine.begin() as conn:
        for url in urls:
            sub_id = str(uuid.uuid4())
            subs.append((sub_id, url))
            await conn.execute(
                insert(subscriptions).values(
                    id=sub_id, owner="agency:bench", channel="webhook", audience="agency:bench",
                    event_types=[], target=url, secret=new_secret(), language="id",
                    state="active", disabled_reason=None, failures=0, created_at=datetime.now(UTC),
                )
            )  # fmt: skip
    task = asyncio.create_task(sending.Sender(engine, settings).run())
    created: dict[str, tuple[float, str]] = {}  # event id -> (created_at, target)
    # The healthy endpoints get the same rate in both runs; the slow one adds its share.
    total = rate if slow else rate * HEALTHY / (HEALTHY + 1)
    loop = asyncio.get_running_loop()
    start = loop.time()
    n = 0
    while loop.time() - start < seconds:
        due = int((loop.time() - start) * total) + 1
        while n < due:
            sub_id, url = subs[n % len(subs)]
            event_id = str(uuid.uuid4())
            now = datetime.now(UTC)
            async with engine.begin() as conn:
                await conn.execute(
                    insert(deliveries).values(
                        subscription_id=sub_id, event_id=event_id,
                        event_type="id.sinergi.referrals.referral_requested.v1",
                        household_id=str(uuid.uuid4()), channel="webhook", owner="agency:bench",
                        target=url, subject=None, payload=PAYLOAD, state="pending", attempts=0,
                        created_at=now, next_attempt_at=now,
                    )
                )  # fmt: skip
            sending.wake(engine)
            created[event_id] = (now.timestamp(), url)
            n += 1
        await asyncio.sleep(max(0.0, start + n / total - loop.time()))
    healthy = {e for e, (_, url) in created.items() if not url.endswith("/slow")}
    deadline = loop.time() + 60
    while loop.time() < deadline:
        async with engine.connect() as conn:
            left = await conn.scalar(
                select(func.count())
                .select_from(deliveries)
                .where(deliveries.c.state == "pending", ~deliveries.c.target.like("%/slow"))
            )
        if not left:
            break
        await asyncio.sleep(0.2)
    async with engine.connect() as conn:
        slow_backlog = await conn.scalar(
            select(func.count())
            .select_from(deliveries)
            .where(deliveries.c.state == "pending", deliveries.c.target.like("%/slow"))
        )
    task.cancel()
    await asyncio.wait({task}, timeout=15)
    await engine.dispose()
    got = await arrivals(port)
    latencies = [(got[e] - created[e][0]) * 1000 for e in healthy if e in got]
    result = percentiles(latencies) if latencies else {"n": 0}
    result |= {"missing": len(healthy) - len(latencies), "slow_backlog": int(slow_backlog or 0)}
    return result


async def raw_path(port: int, rate: float, seconds: float) -> dict[str, Any]:
    """httpx straight at the healthy receivers, same rate, open loop."""
    urls = targets(port, with_slow=False)
    total = rate * HEALTHY / (HEALTHY + 1)
    sent: dict[str, float] = {}
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=None)) as client:

        async def post(url: str, message_id: str) -> None:
            sent[message_id] = time.time()
            await client.post(url, content=PAYLOAD, headers={"webhook-id": message_id})

        loop = asyncio.get_running_loop()
        start, n, pending = loop.time(), 0, set()
        while loop.time() - start < seconds:
            due = int((loop.time() - start) * total) + 1
            while n < due:
                pending.add(asyncio.create_task(post(urls[n % len(urls)], str(uuid.uuid4()))))
                n += 1
            await asyncio.sleep(max(0.0, start + n / total - loop.time()))
        await asyncio.gather(*pending)
    got = await arrivals(port)
    return percentiles([(got[m] - t) * 1000 for m, t in sent.items() if m in got])


async def drop_schemas(database_url: str) -> None:
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        names = await conn.execute(
            text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench_w%_notifications'")
        )
        for (name,) in list(names):
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    await engine.dispose()


async def main(rate: float, seconds: float, database_url: str | None) -> None:
    port = free_port()
    receiver = [sys.executable, "-m", "benchmarks.webhooks", "--receive", str(port)]
    process = subprocess.Popen(receiver)  # noqa: ASYNC220 - started once, before any timing
    try:
        wait_for_port(port)
        with tempfile.TemporaryDirectory(prefix="bench_") as tmp:
            folder = Path(tmp)
            raw = await raw_path(port, rate, seconds)
            alone = await sender_path(port, folder, database_url, rate, seconds, slow=False)
            beside = await sender_path(port, folder, database_url, rate, seconds, slow=True)
    finally:
        process.terminate()
        process.wait(timeout=10)
        if database_url:
            await drop_schemas(database_url)
    m = machine(database_url or "sqlite")
    print(f"machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}")
    print(f"database {m['database']} (sqlite {m['sqlite']}); load average {os.getloadavg()[0]:.2f}")
    print(f"rate {rate:.0f} deliveries/s for {seconds:.0f} s; {HEALTHY} healthy endpoints")

    def line(label: str, p: dict[str, Any]) -> str:
        if not p.get("n"):
            return f"  {label:<46} no deliveries arrived"
        return (
            f"  {label:<46} n={p['n']:>6.0f}  p50 {p['p50']:6.1f} ms  p99 {p['p99']:6.1f} ms  "
            f"max {p['max']:6.1f} ms"
        )

    print(line("raw: httpx → receivers", raw))
    print(line("healthy, no slow endpoint: commit → arrival", alone))
    print(line(f"healthy, slow endpoint ({SLOW_SECONDS:g} s) beside", beside))
    print(f"  slow endpoint backlog at the end: {beside['slow_backlog']} pending")
    for label, p in (("alone", alone), ("beside", beside)):
        if p.get("missing"):
            print(f"  {label}: {p['missing']} healthy deliveries never arrived")
    moved = beside.get("p99", 0.0) - alone.get("p99", 0.0)
    verdict = "does not move" if moved <= MOVE_TOLERANCE_MS else "MOVED"
    print(f"  healthy p99 with the slow endpoint: {moved:+.1f} ms ({verdict})")
    result = {
        "machine": m,
        "rate": rate,
        "seconds": seconds,
        "raw_httpx": raw,
        "healthy_alone": alone,
        "healthy_beside_slow": beside,
        "p99_moved_ms": moved,
    }
    save_result(result, "webhooks")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--database-url", default=os.environ.get("SINERGI_BENCH_DATABASE_URL"))
    parser.add_argument("--receive", type=int, help=argparse.SUPPRESS)  # the receiver process
    args = parser.parse_args()
    if args.receive:
        serve_receivers(args.receive)
        return
    asyncio.run(main(args.rate, args.seconds, args.database_url))


if __name__ == "__main__":
    cli()
