"""Benchmark: event → webhook received, and that a slow endpoint does not move the others.

    .venv/bin/python -m benchmarks.webhooks [--rate 200] [--seconds 30] [--rounds 2]
                                            [--database-url URL]

The notifications service runs as `sinergi serve notifications` does (its own process, a real
nats-server, SQLite or PostgreSQL) with a webhook subscription per agency, made through its
API. Referral requests are published to JetStream at a steady rate (open loop), each
addressed to one of eleven agencies in turn. In the first run all eleven endpoints are
healthy; in the second the eleventh answers after 2 s. Same rate, same fan-out, same ten
agencies measured: only the eleventh endpoint's speed differs. The receivers are one uvicorn
process of their own that notes when each webhook-id (the event id) arrives. Latency: the
event's publication to its webhook's arrival at the ten: p50/p99 in both runs. The slow
lane fills and its backlog grows; the ten's p99 should not move. The two kinds of run
alternate `--rounds` times: a difference smaller than the spread between runs of the same
kind is noise, not a move.

The raw ceiling, same run and rate: the same events published to JetStream, received by a
bare push consumer that posts them to eleven healthy receivers with httpx (no database, no
signing, no service).
A benchmark, not a test: a missed goal is reported, never failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import uvicorn
from nats.js.client import JetStreamContext
from sinergi_contracts import Envelope, ReferralRequested
from sqlalchemy import func, select, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from benchmarks.command_latency import bearer, percentiles, schema_for, start
from benchmarks.event_log import database_version, machine, save_result
from services.notifications.models import deliveries, delivery_attempts
from sinergi.auth import Role
from sinergi.db import chunks, create_engine
from sinergi.natsauth import embedded_users
from sinergi.natsserver import NatsServer, free_port, wait_for_port

HEALTHY = 10
WARM_UP_SECONDS = 3.0
SLOW_SECONDS = 2.0
# The ten's p99 beside the slow endpoint may exceed the one without by this much, or by the
# spread between runs of the same kind if that is larger, and still "not move".
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
    others: set[str] = set()  # not one of the ten measured agencies

    async def hook(request: Request) -> Response:
        webhook_id = request.headers.get("webhook-id", "")
        arrivals[webhook_id] = time.time()
        await request.body()
        name = request.path_params["name"]
        if not name.startswith("agency"):
            others.add(webhook_id)
        if name == "slow":
            await asyncio.sleep(SLOW_SECONDS)
        return Response(status_code=204)

    async def arrived(_: Request) -> JSONResponse:
        return JSONResponse(arrivals)

    async def healthy(_: Request) -> JSONResponse:
        return JSONResponse(len(arrivals) - len(others))

    async def forget(_: Request) -> Response:
        arrivals.clear()
        others.clear()
        return Response(status_code=204)

    return Starlette(
        routes=[
            Route("/hooks/{name}", hook, methods=["POST"]),
            Route("/arrivals", arrived, methods=["GET"]),
            Route("/arrivals/healthy", healthy, methods=["GET"]),
            Route("/arrivals", forget, methods=["DELETE"]),
        ]
    )


def serve_receivers(port: int) -> None:
    uvicorn.run(receivers(), host="127.0.0.1", port=port, log_level="warning", access_log=False)


# --- the runs -------------------------------------------------------------------------------


def targets(port: int, eleventh: str | None) -> list[str]:
    """The ten measured endpoints, and the eleventh ("spare": healthy, or "slow")."""
    names = [f"agency{n}" for n in range(HEALTHY)] + ([eleventh] if eleventh else [])
    return [f"http://127.0.0.1:{port}/hooks/{name}" for name in names]


async def arrivals(port: int) -> dict[str, float]:
    async with httpx.AsyncClient() as client:
        found: dict[str, float] = (await client.get(f"http://127.0.0.1:{port}/arrivals")).json()
        await client.delete(f"http://127.0.0.1:{port}/arrivals")
    return found


async def subscribe(client: httpx.AsyncClient, url: str, name: str) -> None:
    """A webhook subscription of agency `name` to its own referrals, through the service's API."""
    body = {
        "owner": f"agency:{name}", "channel": "webhook", "audience": f"agency:{name}",
        "event_types": [], "target": url, "language": "id",
    }  # fmt: skip
    response = await client.post("/subscriptions", json=body)
    response.raise_for_status()


def referral(agency: str, n: int) -> Envelope:
    now = datetime.now(UTC)
    return Envelope.wrap(
        ReferralRequested(
            household_id=uuid.uuid4(), referral_id=uuid.uuid4(), agency=agency,
            actor="kelurahan:64.74.01.1003", programme=f"bench-{n}", funding="APBD",
            kelurahan_code="64.74.01.1003", due_at=now + timedelta(days=2),
        ),
        source="/sinergi/referrals",
    )  # fmt: skip


async def publish_steadily(
    js: JetStreamContext, agencies: list[str], rate: float, seconds: float
) -> dict[str, tuple[float, str]]:
    """Referrals to `agencies` in turn at `rate`/s, open loop: event id -> (sent, agency)."""
    sent: dict[str, tuple[float, str]] = {}
    loop = asyncio.get_running_loop()
    start = loop.time()
    for n in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, start + n / rate - loop.time()))
        agency = agencies[n % len(agencies)]
        envelope = referral(agency, n)
        sent[str(envelope.id)] = (time.time(), agency)
        await js.publish(
            envelope.nats_subject, envelope.data(), headers=envelope.attributes.to_headers()
        )
    return sent


async def until_arrived(port: int, expected: int, within: float) -> None:
    """Poll the receivers until `expected` healthy webhooks arrived (or `within` s passed)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    async with httpx.AsyncClient() as client:
        while loop.time() < deadline:
            count = (await client.get(f"http://127.0.0.1:{port}/arrivals/healthy")).json()
            if count >= expected:
                return
            await asyncio.sleep(0.2)


def service_database(folder: Path, database_url: str | None) -> tuple[str, str | None]:
    """The URL and schema `command_latency.start` gave the service."""
    if database_url:
        return database_url, schema_for(folder, "notifications")
    return f"sqlite+aiosqlite:///{(folder / 'notifications.db').as_posix()}", None


async def where_time_went(
    database: tuple[str, str | None], sent: dict[str, tuple[float, str]], ids: list[str]
) -> dict[str, dict[str, float]]:
    """p50/p99 of each stage: publication → taken by the fan-out (its batch begins: NATS and
    the wait for the batch before) → the attempt starts (the fan-out's transaction, the
    sender's wake-up and claim) → its outcome logged (the POST, then the shared log write)."""
    engine = create_engine(database[0], schema=database[1])
    d, a = deliveries.c, delivery_attempts.c
    query = (
        select(d.event_id, d.created_at, func.max(a.started_at), d.delivered_at)
        .join(delivery_attempts, a.delivery_id == d.id)
        .where(d.event_id.in_(ids), d.state == "delivered")
        .group_by(d.event_id, d.created_at, d.delivered_at)
    )
    rows = []
    async with engine.connect() as conn:
        for chunk in chunks(ids):
            rows += list(await conn.execute(query.where(d.event_id.in_(chunk))))
    await engine.dispose()

    def ms(later: datetime, earlier: float) -> float:
        return (aware(later).timestamp() - earlier) * 1000

    stages = {
        "to_fan_out": [ms(taken, sent[e][0]) for e, taken, _, _ in rows],
        "to_attempt": [ms(began, aware(taken).timestamp()) for _, taken, began, _ in rows],
        "to_logged": [ms(done, aware(began).timestamp()) for _, _, began, done in rows],
    }
    return {name: percentiles(values) for name, values in stages.items() if values}


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def service_path(
    port: int, folder: Path, server: NatsServer, database_url: str | None, rate: float,
    seconds: float, slow: bool,
) -> dict[str, Any]:  # fmt: skip
    healthy = [f"bench{n}" for n in range(HEALTHY)]
    eleventh = "slow" if slow else "spare"
    agencies = [*healthy, eleventh]
    service = start("notifications", folder, server, database_url)
    nc = await nats.connect(server.client_url())  # the operator, as a publisher of test events
    try:
        headers = bearer(folder, Role.SYSTEM)
        async with httpx.AsyncClient(base_url=service.url, headers=headers) as client:
            for agency, url in zip(agencies, targets(port, eleventh), strict=True):
                await subscribe(client, url, agency)
        # Warm-up (first connections, templates, caches), then forget what arrived.
        js = nc.jetstream()
        warm = await publish_steadily(js, agencies, rate, WARM_UP_SECONDS)
        await until_arrived(port, sum(1 for _, a in warm.values() if a != eleventh), within=60)
        await arrivals(port)
        sent = await publish_steadily(js, agencies, rate, seconds)
        on_time = [e for e, (_, agency) in sent.items() if agency != eleventh]
        await until_arrived(port, len(on_time), within=60)
        got = await arrivals(port)
        stages = await where_time_went(service_database(folder, database_url), sent, on_time)
    finally:
        await nc.close()
        service.process.terminate()
        service.process.wait(timeout=30)
    latencies = [(got[e] - sent[e][0]) * 1000 for e in on_time if e in got]
    result = percentiles(latencies) if latencies else {"n": 0}
    slow_sent = len(sent) - len(on_time)
    slow_arrived = sum(1 for e, (_, agency) in sent.items() if agency == eleventh and e in got)
    return result | {
        "stages": stages,
        "missing": len(on_time) - len(latencies),
        "slow_sent": slow_sent,
        "slow_backlog": slow_sent - slow_arrived,
    }


async def raw_path(port: int, nats_url: str, rate: float, seconds: float) -> dict[str, Any]:
    """JetStream publish → bare push consumer → httpx POST, to the eleven healthy receivers."""
    urls = targets(port, "spare")
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    name = f"RAW_{uuid.uuid4().hex[:8]}"
    await js.add_stream(name=name, subjects=[f"raw.{name}.>"])
    client = httpx.AsyncClient(limits=httpx.Limits(max_connections=None))
    posts: set[asyncio.Task[Any]] = set()

    async def received(msg: Any) -> None:
        envelope_id = msg.headers["ce-id"]
        url = urls[int(msg.subject.rsplit(".", 1)[1])]
        task = asyncio.create_task(
            client.post(url, content=msg.data, headers={"webhook-id": envelope_id})
        )
        posts.add(task)
        task.add_done_callback(posts.discard)
        await msg.ack()

    sub = await js.subscribe(f"raw.{name}.>", cb=received, manual_ack=True)
    sent: dict[str, float] = {}
    try:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for n in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, start + n / rate - loop.time()))
            lane = n % len(urls)
            envelope = referral(f"bench{lane}", n)
            if lane < HEALTHY:  # the ten measured
                sent[str(envelope.id)] = time.time()
            headers = envelope.attributes.to_headers()
            await js.publish(f"raw.{name}.{lane}", envelope.data(), headers=headers)
        await until_arrived(port, len(sent), within=60)
    finally:
        await sub.unsubscribe()
        await nc.close()
        await client.aclose()
    got = await arrivals(port)
    return percentiles([(got[m] - t) * 1000 for m, t in sent.items() if m in got])


async def drop_schema(database_url: str, schema: str) -> None:
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await engine.dispose()


async def main(rate: float, seconds: float, rounds: int, database_url: str | None) -> None:
    port = free_port()
    receiver = [sys.executable, "-m", "benchmarks.webhooks", "--receive", str(port)]
    process = subprocess.Popen(receiver)  # noqa: ASYNC220 - started once, before any timing
    runs: dict[str, list[dict[str, Any]]] = {"alone": [], "beside": []}
    try:
        wait_for_port(port)
        with tempfile.TemporaryDirectory(prefix="bench_") as tmp:
            folder = Path(tmp)
            with NatsServer(store_dir=folder / "nats") as server:
                raw = await raw_path(port, server.url, rate, seconds)
            # Alternated, so that drift of a shared machine falls on both alike.
            for label in ["alone", "beside"] * rounds:
                # Each run its own nats-server: a new service would otherwise also consume
                # the previous run's events (its durable starts at the stream's beginning).
                # Named for the run: the schema on PostgreSQL is named after the folder.
                where = folder / f"w{uuid.uuid4().hex[:6]}_{label}"
                where.mkdir()
                try:
                    # Secured as `sinergi up` secures it: the service connects as its own user.
                    users = embedded_users(where / "nats-users.json")
                    with NatsServer(store_dir=where / "nats", users=users) as server:
                        runs[label].append(
                            await service_path(
                                port, where, server, database_url, rate, seconds,
                                slow=label == "beside",
                            )
                        )  # fmt: skip
                finally:
                    if database_url:
                        await drop_schema(database_url, schema_for(where, "notifications"))
    finally:
        process.terminate()
        process.wait(timeout=10)
    m = machine(database_url or "sqlite")
    m["database_version"] = await database_version(database_url or "sqlite")
    result = {"machine": m, "rate": rate, "seconds": seconds, "raw": raw} | verdict(runs)
    print(report(result, runs))
    save_result(result | {"runs": runs}, "webhooks")


def verdict(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The ten's p99 beside the slow endpoint against the same without it, and the noise:
    how far apart runs of the same kind came out."""
    p99 = {label: [r.get("p99", float("nan")) for r in found] for label, found in runs.items()}
    mean = {label: statistics.fmean(values) for label, values in p99.items()}
    noise = max(max(values) - min(values) for values in p99.values())
    moved = mean["beside"] - mean["alone"]
    return {
        "p99_alone_ms": p99["alone"],
        "p99_beside_ms": p99["beside"],
        "p99_moved_ms": moved,
        "noise_ms": noise,
        "moved": moved > max(MOVE_TOLERANCE_MS, noise),
    }


def report(result: dict[str, Any], runs: dict[str, list[dict[str, Any]]]) -> str:
    m = result["machine"]

    def line(label: str, p: dict[str, Any]) -> str:
        if not p.get("n"):
            return f"  {label:<52} no deliveries arrived"
        return (
            f"  {label:<52} n={p['n']:>6.0f}  p50 {p['p50']:6.1f} ms  p99 {p['p99']:6.1f} ms  "
            f"max {p['max']:6.1f} ms"
        )

    lines = [
        f"machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}",
        f"{m['nats_server']}; database {m['database_version']}",
        f"load average at the end {os.getloadavg()[0]:.2f}",
        f"rate {result['rate']:.0f} events/s for {result['seconds']:.0f} s a run (after "
        f"{WARM_UP_SECONDS:g} s of warm-up), runs alternated",
        line("raw: JetStream → push consumer → httpx", result["raw"]),
    ]
    titles = {
        "alone": "ten agencies, eleventh healthy: event → webhook",
        "beside": f"ten agencies, eleventh slow ({SLOW_SECONDS:g} s): event → webhook",
    }
    for label, found in runs.items():
        for n, p in enumerate(found, 1):
            lines.append(line(f"{titles[label]} #{n}", p))
            stages = p.get("stages", {})
            lines.append(
                "      stages: "
                + ", ".join(
                    f"{k} p50 {v['p50']:.0f} / p99 {v['p99']:.0f} ms" for k, v in stages.items()
                )
            )
            if p.get("missing"):
                lines.append(f"      {p['missing']} webhooks of the ten never arrived within 60 s")
    slow = runs["beside"][-1]
    lines.append(
        f"  slow endpoint (last run): {slow['slow_sent']} sent to it, "
        f"{slow['slow_backlog']} still waiting at the end (its lane holds them)"
    )
    word = "MOVED" if result["moved"] else "does not move"
    lines.append(
        f"  the ten's p99 beside the slow endpoint: {result['p99_moved_ms']:+.1f} ms on average; "
        f"runs of the same kind differ by up to {result['noise_ms']:.1f} ms → {word}"
    )
    return "\n".join(lines)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=2, help="pairs of runs, alternated")
    parser.add_argument("--database-url", default=os.environ.get("SINERGI_BENCH_DATABASE_URL"))
    parser.add_argument("--receive", type=int, help=argparse.SUPPRESS)  # the receiver process
    args = parser.parse_args()
    if args.receive:
        serve_receivers(args.receive)
        return
    asyncio.run(main(args.rate, args.seconds, args.rounds, args.database_url))


if __name__ == "__main__":
    cli()
