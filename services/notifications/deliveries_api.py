"""The delivery log over HTTP: deliveries and their attempts, dead letters, replay, enable.

Deliveries carry event data about households, so who may see one follows the caller's token
(sinergi.actors): a coordinator sees every delivery, anyone else only the deliveries and
subscriptions they own. Someone else's row answers 404, as if it did not exist.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from services.notifications import sending, subscriptions
from services.notifications.models import deliveries, delivery_attempts
from services.notifications.models import subscriptions as subscriptions_table
from sinergi.actors import current_actor
from sinergi.auth import CASE_WORKERS, Role, allow
from sinergi.db import POSITION_MAX
from sinergi.errors import Conflict, NotFound, answers
from sinergi.service import Runtime

Actor = Annotated[str, Depends(current_actor)]
State = Literal["pending", "delivered", "dead"]
DeliveryId = Annotated[int, Path(ge=1, le=POSITION_MAX)]
After = Annotated[
    int | None,
    Query(
        ge=0,
        le=POSITION_MAX,
        description="Mulai setelah id ini: next_after halaman sebelumnya (after this id)",
    ),
]


def sees_all(actor: str) -> bool:
    return actor.startswith(("coordinator:", "system:"))


def _utc(value: datetime | None) -> datetime | None:
    # SQLite gives back naive UTC; PostgreSQL aware. Answers are always aware.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


class DeliveryView(BaseModel):
    id: int
    subscription_id: str
    event_id: str = Field(description="Id event CloudEvents = header webhook-id (idempotency key)")
    event_type: str
    household_id: str
    channel: str = Field(description="webhook atau email")
    owner: str = Field(description="Pemilik langganan (subscription owner)")
    target: str = Field(description="URL webhook atau alamat e-mail (webhook URL or address)")
    subject: str | None = Field(description="Subjek e-mail (e-mail subject); webhook: kosong")
    state: str = Field(description="pending (menunggu), delivered (terkirim), dead (gagal total)")
    attempts: int = Field(description="Percobaan sejak terakhir diantrikan (tries this round)")
    created_at: datetime
    next_attempt_at: datetime | None = Field(description="Percobaan berikut (next try)")
    delivered_at: datetime | None
    last_error: str | None = Field(description="Kesalahan terakhir (the last error)")

    @classmethod
    def of(cls, row: Any) -> DeliveryView:
        values = dict(row._mapping)
        for key in ("created_at", "next_attempt_at", "delivered_at"):
            values[key] = _utc(values[key])
        return cls(**{k: v for k, v in values.items() if k in cls.model_fields})


class AttemptView(BaseModel):
    attempt: int = Field(description="Nomor percobaan, termasuk kiriman ulang (counts replays)")
    started_at: datetime
    latency_ms: float = Field(description="Lama percobaan dalam milidetik (duration, ms)")
    outcome: str = Field(description="ok, error atau timeout")
    status_code: int | None = Field(description="Kode HTTP atau SMTP (HTTP or SMTP status)")
    error: str | None


class DeliveryDetail(DeliveryView):
    payload: str = Field(description="Isi yang dikirim: JSON webhook atau teks e-mail (the body)")
    log: list[AttemptView] = Field(description="Setiap percobaan (every attempt), urut")


class DeliveryPage(BaseModel):
    items: list[DeliveryView]
    next_after: int | None = Field(
        description="Halaman berikut: kirim sebagai after (next page: pass as after)"
    )


class Replayed(BaseModel):
    id: int
    state: str = Field(description="pending: akan dikirim lagi (will be sent again)")
    next_attempt_at: datetime | None


class EnabledSubscription(BaseModel):
    id: str
    state: str
    failures: int = Field(description="Pengiriman mati berturut-turut (dead in a row): 0")
    pending: int = Field(description="Pengiriman yang kini berangkat (deliveries now leaving)")


_NO_DELIVERY = "Pengiriman tidak ditemukan (delivery not found)"
_NO_SUBSCRIPTION = "Langganan tidak ditemukan (subscription not found)"


# --- reading ------------------------------------------------------------------------------


async def listed(
    engine: AsyncEngine,
    *,
    actor: str,
    limit: int,
    after: int | None = None,
    event_id: str | None = None,
    owner: str | None = None,
    subscription_id: str | None = None,
    state: str | None = None,
) -> list[Any]:
    d = deliveries.c
    query = select(deliveries).order_by(d.id).limit(limit)
    if not sees_all(actor):
        query = query.where(d.owner == actor)
    for column, value in (
        (d.event_id, event_id),
        (d.owner, owner),
        (d.subscription_id, subscription_id),
        (d.state, state),
    ):
        if value is not None:
            query = query.where(column == value)
    if after is not None:
        query = query.where(d.id > after)
    async with engine.connect() as conn:
        return list(await conn.execute(query))


async def detail(engine: AsyncEngine, delivery_id: int, *, actor: str) -> DeliveryDetail:
    d, a = deliveries.c, delivery_attempts.c
    async with engine.connect() as conn:
        row = (await conn.execute(select(deliveries).where(d.id == delivery_id))).first()
        if row is None or not (sees_all(actor) or row.owner == actor):
            raise NotFound(_NO_DELIVERY)
        log = await conn.execute(
            select(delivery_attempts).where(a.delivery_id == delivery_id).order_by(a.attempt, a.id)
        )
        attempts = [
            AttemptView(
                attempt=x.attempt,
                started_at=_utc(x.started_at) or x.started_at,
                latency_ms=x.latency_ms,
                outcome=x.outcome,
                status_code=x.status_code,
                error=x.error,
            )
            for x in log
        ]
    view = DeliveryView.of(row)
    return DeliveryDetail(**view.model_dump(), payload=row.payload, log=attempts)


async def owned_subscription(engine: AsyncEngine, subscription_id: str, *, actor: str) -> None:
    """404 unless the subscription exists and the actor owns it (or sees all)."""
    row = await subscriptions.get(engine, subscription_id)
    if not (sees_all(actor) or row["owner"] == actor):
        raise NotFound(_NO_SUBSCRIPTION)


# --- changing -----------------------------------------------------------------------------


async def replay(engine: AsyncEngine, delivery_id: int, *, actor: str) -> Replayed:
    """A dead or delivered delivery is queued again with a fresh retry schedule; its earlier
    attempts stay in the log and the next one is numbered after them."""
    d = deliveries.c
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        row = (await conn.execute(select(deliveries).where(d.id == delivery_id))).first()
        if row is None or not (sees_all(actor) or row.owner == actor):
            raise NotFound(_NO_DELIVERY)
        # Conditional on the state, so a second replay racing this one changes nothing.
        moved = await conn.execute(
            update(deliveries)
            .where(d.id == delivery_id, d.state.in_(("dead", "delivered")))
            .values(
                state="pending",
                attempts=0,
                next_attempt_at=now,
                lease_until=None,
                delivered_at=None,
            )
        )
        if moved.rowcount != 1:
            raise Conflict(
                "pengiriman ini masih menunggu, tidak dapat dikirim ulang "
                "(this delivery is still pending; only dead or delivered ones can be replayed)"
            )
    sending.wake(engine)
    return Replayed(id=delivery_id, state="pending", next_attempt_at=now)


async def enable(engine: AsyncEngine, subscription_id: str, *, actor: str) -> EnabledSubscription:
    """Active again with no failures counted; its waiting deliveries leave at once."""
    s, d = subscriptions_table.c, deliveries.c
    await owned_subscription(engine, subscription_id, actor=actor)
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(
            update(subscriptions_table)
            .where(s.id == subscription_id, s.state != "deleted")
            .values(state="active", failures=0, disabled_reason=None)
        )
        # Those that waited out a long retry delay while disabled need not wait longer.
        waiting = await conn.execute(
            update(deliveries)
            .where(d.subscription_id == subscription_id, d.state == "pending")
            .values(next_attempt_at=now)
        )
    sending.wake(engine)
    return EnabledSubscription(
        id=subscription_id, state="active", failures=0, pending=waiting.rowcount or 0
    )


# --- routes -------------------------------------------------------------------------------


def routes(runtime: Runtime) -> APIRouter:
    router = APIRouter(tags=["pengiriman (deliveries)"])
    engine = runtime.engine

    @router.get(
        "/deliveries",
        dependencies=allow(*CASE_WORKERS),
        summary="Log pengiriman (the delivery log)",
    )
    async def list_deliveries(
        actor: Actor,
        event_id: Annotated[str | None, Query(max_length=64)] = None,
        owner: Annotated[str | None, Query(max_length=100)] = None,
        subscription_id: Annotated[str | None, Query(max_length=36)] = None,
        state: State | None = None,
        after: After = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> DeliveryPage:
        rows = await listed(
            engine,
            actor=actor,
            limit=limit,
            after=after,
            event_id=event_id,
            owner=owner,
            subscription_id=subscription_id,
            state=state,
        )
        return _page(rows, limit)

    @router.get(
        "/deliveries/{delivery_id}",
        dependencies=allow(*CASE_WORKERS),
        summary="Satu pengiriman dan setiap percobaannya (one delivery and its attempts)",
    )
    async def get_delivery(actor: Actor, delivery_id: DeliveryId) -> DeliveryDetail:
        with answers():
            return await detail(engine, delivery_id, actor=actor)

    @router.post(
        "/deliveries/{delivery_id}/replay",
        dependencies=allow(Role.AGENCY_ADMIN, Role.KELURAHAN, Role.COORDINATOR),
        summary="Kirim ulang (replay a dead or delivered delivery)",
        description="Pengiriman mati atau terkirim diantrikan lagi dengan jadwal percobaan baru; "
        "log percobaan tetap. (Queued again with a fresh retry schedule; the log is kept. The "
        "receiver sees the same webhook-id.)",
        responses={404: {"description": _NO_DELIVERY}, 409: {"description": "Masih menunggu"}},
    )
    async def replay_delivery(actor: Actor, delivery_id: DeliveryId) -> Replayed:
        with answers():
            return await replay(engine, delivery_id, actor=actor)

    @router.get(
        "/subscriptions/{subscription_id}/dead-letters",
        dependencies=allow(*CASE_WORKERS),
        summary="Pengiriman yang mati (an endpoint's dead letters)",
        tags=["langganan (subscriptions)"],
    )
    async def dead_letters(
        actor: Actor,
        subscription_id: Annotated[str, Path(max_length=36)],
        after: After = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> DeliveryPage:
        with answers():
            await owned_subscription(engine, subscription_id, actor=actor)
        rows = await listed(
            engine,
            actor=actor,
            limit=limit,
            after=after,
            subscription_id=subscription_id,
            state="dead",
        )
        return _page(rows, limit)

    @router.post(
        "/subscriptions/{subscription_id}/enable",
        dependencies=allow(Role.AGENCY_ADMIN, Role.KELURAHAN, Role.COORDINATOR),
        summary="Aktifkan lagi (enable a disabled endpoint)",
        description="Status aktif, hitungan gagal 0, pengiriman yang menunggu berangkat. "
        "(Active again, failures 0, its waiting deliveries leave.)",
        tags=["langganan (subscriptions)"],
    )
    async def enable_subscription(
        actor: Actor, subscription_id: Annotated[str, Path(max_length=36)]
    ) -> EnabledSubscription:
        with answers():
            return await enable(engine, subscription_id, actor=actor)

    return router


def _page(rows: list[Any], limit: int) -> DeliveryPage:
    return DeliveryPage(
        items=[DeliveryView.of(r) for r in rows],
        next_after=rows[-1].id if len(rows) == limit else None,
    )
