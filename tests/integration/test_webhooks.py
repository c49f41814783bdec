"""Webhooks: signed per Standard Webhooks, retried, dead-lettered, replayed, disabled — sent
by the real sender to real HTTP receivers (uvicorn on a free port) that verify every
signature, over a real database."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import APIRouter, FastAPI
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.notifications import api, deliveries_api, delivery_log, sending
from services.notifications.app import DEFINITION
from services.notifications.models import deliveries, delivery_attempts, subscriptions
from services.notifications.subscriptions import new_secret
from sinergi.auth import Role
from sinergi.config import Settings
from sinergi.db import create_engine
from sinergi.migrate import upgrade
from sinergi.natsserver import free_port
from sinergi.service import Runtime, create_service_app, running
from tests import tokens
from tests.system import eventually
from tests.tokens import as_actor

pytestmark = pytest.mark.integration

FAST = {
    "delivery_retry_seconds": (0.05, 0.05, 0.05),
    "delivery_poll_seconds": 0.05,
    "delivery_timeout_seconds": 2.0,
}
COORDINATOR = as_actor("coordinator:dinkes")
DSPM_ADMIN = as_actor("agency:dspm", role=Role.AGENCY_ADMIN)
BAZNAS_ADMIN = as_actor("agency:baznas", role=Role.AGENCY_ADMIN)


# --- a real receiver ----------------------------------------------------------------------


@dataclass
class Behaviour:
    fail_first: int = 0  # answer 500 to this many requests, then accept
    always_fail: bool = False
    delay: float = 0.0  # seconds before answering


@dataclass
class Receiver:
    """Endpoints /hooks/<name> on one uvicorn server; each checks its own secret."""

    port: int
    secrets: dict[str, str] = field(default_factory=dict)
    behaviour: dict[str, Behaviour] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    accepted: list[tuple[str, str]] = field(default_factory=list)  # (endpoint, webhook-id)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    ids_seen: list[tuple[str, str]] = field(default_factory=list)  # every request's id
    bad_signatures: int = 0

    def endpoint(self, name: str, behaviour: Behaviour | None = None) -> tuple[str, str]:
        """(URL, secret) of a new endpoint."""
        self.secrets[name] = new_secret()
        self.behaviour[name] = behaviour or Behaviour()
        return f"http://127.0.0.1:{self.port}/hooks/{name}", self.secrets[name]

    def accepted_ids(self, name: str) -> list[str]:
        return [i for n, i in self.accepted if n == name]

    async def hook(self, request: Request) -> Response:
        name = request.path_params["name"]
        body = await request.body()
        try:
            payload = Webhook(self.secrets[name]).verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.bad_signatures += 1
            return Response(status_code=400)
        self.hits[name] += 1
        self.ids_seen.append((name, request.headers["webhook-id"]))
        behaviour = self.behaviour[name]
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)
        if behaviour.always_fail or behaviour.fail_first > 0:
            behaviour.fail_first -= 1
            return Response(status_code=500)
        self.accepted.append((name, request.headers["webhook-id"]))
        self.bodies.append(payload)
        return Response(status_code=204)


@contextlib.asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    receiver = Receiver(port=free_port())
    app = Starlette(routes=[Route("/hooks/{name}", receiver.hook, methods=["POST"])])
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=receiver.port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: asyncio.sleep(0.01), lambda _: server.started, within=10)
        yield receiver
    finally:
        server.should_exit = True
        await asyncio.wait({task}, timeout=5)


# --- rows as the fan-out writes them -----------------------------------------------------


async def subscribe(
    engine: AsyncEngine,
    *,
    owner: str,
    target: str,
    secret: str | None = None,
    channel: str = "webhook",
) -> str:
    subscription_id = str(uuid.uuid4())
    async with engine.begin() as conn:
        await conn.execute(
            insert(subscriptions).values(
                id=subscription_id, owner=owner, channel=channel, audience=owner,
                event_types=[], target=target, secret=secret, language="id", state="active",
                disabled_reason=None, failures=0, created_at=datetime.now(UTC),
            )
        )  # fmt: skip
    return subscription_id


async def queue(
    engine: AsyncEngine,
    subscription_id: str,
    count: int,
    *,
    owner: str,
    target: str,
    channel: str = "webhook",
    subject: str | None = None,
    body: str | None = None,
) -> list[str]:
    """`count` pending deliveries, committed, then the sender woken (as the fan-out does)."""
    now = datetime.now(UTC)
    event_ids = [str(uuid.uuid4()) for _ in range(count)]
    rows = [
        {
            "subscription_id": subscription_id,
            "event_id": event_id,
            "event_type": "id.sinergi.referrals.referral_requested.v1",
            "household_id": str(uuid.uuid4()),
            "channel": channel,
            "owner": owner,
            "target": target,
            "subject": subject,
            "payload": body
            if body is not None
            else json.dumps(
                {
                    "type": "id.sinergi.referrals.referral_requested.v1",
                    "timestamp": now.isoformat().replace("+00:00", "Z"),
                    "data": {"referral_id": event_id, "programme": "baznas-zakat-produktif"},
                }
            ),
            "state": "pending",
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now,
        }
        for event_id in event_ids
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(deliveries), rows)
    sending.wake(engine)
    return event_ids


async def delivery_states(engine: AsyncEngine, subscription_id: str) -> Counter[str]:
    d = deliveries.c
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(d.state, func.count())
            .where(d.subscription_id == subscription_id)
            .group_by(d.state)
        )
        return Counter({state: n for state, n in rows})


async def attempts_of(engine: AsyncEngine, event_id: str) -> list[Any]:
    d, a = deliveries.c, delivery_attempts.c
    async with engine.connect() as conn:
        return list(
            await conn.execute(
                select(delivery_attempts)
                .join(deliveries, d.id == a.delivery_id)
                .where(d.event_id == event_id)
                .order_by(a.attempt)
            )
        )


async def subscription(engine: AsyncEngine, subscription_id: str) -> Any:
    async with engine.connect() as conn:
        return (
            await conn.execute(select(subscriptions).where(subscriptions.c.id == subscription_id))
        ).one()


# --- the sender, alone or in the service ---------------------------------------------------


@contextlib.asynccontextmanager
async def replica(settings: Settings) -> AsyncIterator[sending.Sender]:
    """A sender as one replica runs it: its own engine on the shared database."""
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    running_sender = sending.Sender(engine, settings)
    task = asyncio.create_task(running_sender.run())
    try:
        yield running_sender
    finally:
        task.cancel()
        await asyncio.wait({task}, timeout=10)
        await engine.dispose()


@contextlib.asynccontextmanager
async def sender(settings: Settings) -> AsyncIterator[AsyncEngine]:
    async with replica(settings) as running_sender:
        yield running_sender.engine


def _routes(runtime: Runtime) -> APIRouter:
    router = api.routes(runtime)
    router.include_router(deliveries_api.routes(runtime))
    return router


@contextlib.asynccontextmanager
async def service(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, AsyncEngine]]:
    """The notifications service with the sender as its worker and the delivery routes."""
    definition = dataclasses.replace(DEFINITION, routes=_routes, workers=(sending.send_deliveries,))
    app: FastAPI = create_service_app(definition, settings)
    runtime: Runtime = app.state.runtime
    async with (
        running(runtime),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://notifications",
            headers=tokens.SYSTEM,
        ) as client,
    ):
        yield client, runtime.engine


async def migrated(settings_for: Any, **overrides: Any) -> Settings:
    settings: Settings = settings_for("notifications", **(FAST | overrides))
    await upgrade("notifications", settings)
    return settings


# --- the cases ---------------------------------------------------------------------------


async def test_a_receiver_failing_three_times_accepts_one_delivery_after_four_logged_attempts(
    settings_for: Any,
) -> None:
    settings = await migrated(settings_for)
    async with receiving() as receiver, sender(settings) as engine:
        url, secret = receiver.endpoint("flaky", Behaviour(fail_first=3))
        sub = await subscribe(engine, owner="agency:baznas", target=url, secret=secret)
        (event_id,) = await queue(engine, sub, 1, owner="agency:baznas", target=url)

        await eventually(lambda: delivery_states(engine, sub), lambda s: s == {"delivered": 1})
        assert receiver.accepted_ids("flaky") == [event_id]
        # Every try carried the event id as webhook-id, so the receiver can drop repeats.
        assert receiver.ids_seen == [("flaky", event_id)] * 4
        assert receiver.bad_signatures == 0
        assert receiver.bodies[0]["type"] == "id.sinergi.referrals.referral_requested.v1"

        log = await attempts_of(engine, event_id)
        assert [(a.attempt, a.outcome, a.status_code) for a in log] == [
            (1, "error", 500), (2, "error", 500), (3, "error", 500), (4, "ok", 204),
        ]  # fmt: skip
        assert all(a.latency_ms >= 0 for a in log)
        assert (await subscription(engine, sub)).failures == 0


async def test_a_dead_endpoint_is_dead_lettered_and_disabled_while_a_healthy_one_goes_on(
    settings_for: Any,
) -> None:
    settings = await migrated(
        settings_for,
        delivery_timeout_seconds=0.4,
        disable_after_dead=2,
        delivery_lane_concurrency=2,
    )
    async with receiving() as receiver, service(settings) as (client, engine):
        slow_url, slow_secret = receiver.endpoint("slow", Behaviour(delay=5.0))
        ok_url, ok_secret = receiver.endpoint("healthy")
        slow = await subscribe(engine, owner="agency:dspm", target=slow_url, secret=slow_secret)
        healthy = await subscribe(engine, owner="agency:baznas", target=ok_url, secret=ok_secret)
        dying = await queue(engine, slow, 2, owner="agency:dspm", target=slow_url)
        sent = await queue(engine, healthy, 30, owner="agency:baznas", target=ok_url)

        await eventually(lambda: delivery_states(engine, healthy), lambda s: s == {"delivered": 30})
        # The healthy endpoint is done while the slow one is still on its first tries: its
        # lane was full of timeouts the whole time and held up nobody.
        assert sorted(receiver.accepted_ids("healthy")) == sorted(sent)
        assert (await delivery_states(engine, slow)) == {"pending": 2}
        assert receiver.hits["slow"] >= 1

        disabled = await eventually(
            lambda: subscription(engine, slow), lambda s: s.state == "disabled", within=30
        )
        assert disabled.failures == 2
        assert "dinonaktifkan" in disabled.disabled_reason
        assert "disabled" in disabled.disabled_reason
        dead = await client.get(f"/subscriptions/{slow}/dead-letters", headers=COORDINATOR)
        assert dead.status_code == 200, dead.text
        assert sorted(item["event_id"] for item in dead.json()["items"]) == sorted(dying)
        log = await attempts_of(engine, dying[0])
        assert [(a.attempt, a.outcome, a.status_code) for a in log] == [
            (n, "timeout", None) for n in (1, 2, 3, 4)
        ]

        notices = await client.get("/inbox", params={"recipient": "agency:dspm"})
        (notice,) = notices.json()["items"]
        assert notice["title"].startswith("Webhook dinonaktifkan (endpoint disabled)")
        assert slow in notice["body"]
        assert notice["event_type"] == delivery_log.DISABLED_TYPE

        # Disabled: what comes now is kept, and waits unsent.
        waiting = await queue(engine, slow, 3, owner="agency:dspm", target=slow_url)
        hits = receiver.hits["slow"]
        await asyncio.sleep(0.6)
        assert receiver.hits["slow"] == hits
        assert (await delivery_states(engine, slow)) == {"dead": 2, "pending": 3}

        # Fixed and enabled again by its owner: the waiting ones leave; the dead ones stay
        # dead letters until replayed.
        receiver.behaviour["slow"] = Behaviour()
        stranger = await client.post(f"/subscriptions/{slow}/enable", headers=BAZNAS_ADMIN)
        assert stranger.status_code == 404
        enabled = await client.post(f"/subscriptions/{slow}/enable", headers=DSPM_ADMIN)
        assert enabled.status_code == 200, enabled.text
        assert enabled.json() == {"id": slow, "state": "active", "failures": 0, "pending": 3}
        await eventually(
            lambda: delivery_states(engine, slow), lambda s: s == {"delivered": 3, "dead": 2}
        )
        assert sorted(receiver.accepted_ids("slow")) == sorted(waiting)
        assert (await subscription(engine, slow)).failures == 0


async def test_a_replayed_dead_delivery_is_delivered_and_keeps_its_log(settings_for: Any) -> None:
    settings = await migrated(settings_for, disable_after_dead=5)
    async with receiving() as receiver, service(settings) as (client, engine):
        url, secret = receiver.endpoint("down", Behaviour(always_fail=True))
        sub = await subscribe(engine, owner="agency:baznas", target=url, secret=secret)
        (event_id,) = await queue(engine, sub, 1, owner="agency:baznas", target=url)
        await eventually(lambda: delivery_states(engine, sub), lambda s: s == {"dead": 1})
        assert (await subscription(engine, sub)).state == "active"  # 1 of 5 dead in a row

        listed = await client.get(
            "/deliveries",
            params={"event_id": event_id},
            headers=as_actor("agency:baznas"),
        )
        (item,) = listed.json()["items"]
        assert item["state"] == "dead"
        assert item["last_error"] == "HTTP 500"
        delivery_id = item["id"]
        other = await client.post(f"/deliveries/{delivery_id}/replay", headers=DSPM_ADMIN)
        assert other.status_code == 404, other.text
        assert (await client.get("/deliveries", headers=as_actor("agency:dspm"))).json()[
            "items"
        ] == []
        missing = await client.post("/deliveries/999999/replay", headers=COORDINATOR)
        assert missing.status_code == 404
        assert missing.json()["pesan"] == "Pengiriman tidak ditemukan"
        anonymous = await client.post(
            f"/deliveries/{delivery_id}/replay", headers={"Authorization": ""}
        )
        assert anonymous.status_code == 401

        receiver.behaviour["down"] = Behaviour()
        replayed = await client.post(f"/deliveries/{delivery_id}/replay", headers=COORDINATOR)
        assert replayed.status_code == 200, replayed.text
        assert replayed.json()["state"] == "pending"
        again = await client.post(f"/deliveries/{delivery_id}/replay", headers=COORDINATOR)
        assert again.status_code in (200, 409)  # 409 while it is still pending

        await eventually(lambda: delivery_states(engine, sub), lambda s: s == {"delivered": 1})
        assert receiver.accepted_ids("down") == [event_id]
        detail = await client.get(f"/deliveries/{delivery_id}", headers=COORDINATOR)
        body = detail.json()
        assert body["state"] == "delivered"
        assert [(a["attempt"], a["outcome"]) for a in body["log"]] == [
            (1, "error"), (2, "error"), (3, "error"), (4, "error"), (5, "ok"),
        ]  # fmt: skip
        assert json.loads(body["payload"])["data"]["referral_id"] == event_id

        pending = await queue(engine, sub, 1, owner="agency:baznas", target=url)
        receiver.behaviour["down"] = Behaviour(delay=1.0)
        (row,) = (
            await client.get("/deliveries", params={"event_id": pending[0]}, headers=COORDINATOR)
        ).json()["items"]
        conflict = await client.post(f"/deliveries/{row['id']}/replay", headers=COORDINATOR)
        assert conflict.status_code == 409
        assert conflict.json()["message"].startswith("this delivery is still pending")


async def test_two_senders_on_one_database_never_send_one_attempt_twice(
    settings_for: Any,
) -> None:
    settings = await migrated(settings_for, delivery_lane_concurrency=8)
    async with (
        receiving() as receiver,
        replica(settings) as one,
        replica(settings) as other,
    ):
        first = one.engine
        sent: dict[str, list[str]] = {}
        for n in range(4):
            url, secret = receiver.endpoint(f"agency{n}", Behaviour(delay=0.02))
            sub = await subscribe(first, owner=f"agency:a{n}", target=url, secret=secret)
            sent[f"agency{n}"] = await queue(first, sub, 50, owner=f"agency:a{n}", target=url)
        sending.wake(other.engine)

        await eventually(lambda: _delivered(first), lambda n: n == 200, within=60)
        for name, ids in sent.items():
            assert sorted(receiver.accepted_ids(name)) == sorted(ids)
        assert len(receiver.ids_seen) == 200  # no request twice
        async with first.connect() as conn:
            logged = await conn.scalar(select(func.count()).select_from(delivery_attempts))
        assert logged == 200
        assert one.attempted + other.attempted == 200
        assert one.attempted > 0 and other.attempted > 0  # both replicas took a share


async def _delivered(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        found = await conn.scalar(
            select(func.count()).select_from(deliveries).where(deliveries.c.state == "delivered")
        )
    return int(found or 0)
