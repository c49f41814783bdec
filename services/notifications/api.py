"""HTTP routes of the notifications service: inboxes (with a live stream) and subscriptions."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from services.notifications import digest, inbox, scope, subscriptions
from services.notifications.inbox import INBOX_HUB, StoredItem
from sinergi import live
from sinergi.auth import EVERYONE, Caller, Role, allow
from sinergi.db import POSITION_MAX
from sinergi.errors import answers
from sinergi.service import Runtime

RECIPIENT = r"^(city|(agency|kelurahan|rt|coordinator|user):[\w.:-]{1,90})$"
Recipient = Annotated[
    str,
    Query(
        pattern=RECIPIENT,
        description="Penerima: agency:<kode>, kelurahan:<kode>, rt:<kelurahan>:<rw>:<rt>, city, "
        "coordinator:<nama> atau user:<nama> (the recipient)",
        examples=["kelurahan:64.74.01.1001"],
    ),
]


class InboxItemView(BaseModel):
    id: int
    event_id: str
    event_type: str
    household_id: str
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None


class InboxView(BaseModel):
    recipient: str
    unread: int = Field(description="Belum dibaca (unread), seluruh kotak masuk")
    items: list[InboxItemView]
    next_before: int | None = Field(
        description="Halaman berikut: kirim sebagai before (next page: pass as before)"
    )


class MarkRead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipient: str = Field(pattern=RECIPIENT)
    ids: list[Annotated[int, Field(ge=1, le=POSITION_MAX)]] | None = Field(
        default=None, max_length=1000, description="Yang ditandai; kosong = semua (none: all)"
    )


class MarkedRead(BaseModel):
    marked: int
    unread: int


class SubscriptionRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "owner": "agency:baznas",
                    "channel": "webhook",
                    "audience": "agency:baznas",
                    "event_types": ["id.go.bontang.sinergi.referrals.referral_requested.v1"],
                    "target": "https://sistem.baznas-bontang.example/sinergi/webhook",
                    "language": "id",
                }
            ]
        },
    )

    owner: str = Field(description="Pemilik langganan (who owns it), e.g. agency:baznas")
    channel: Literal["inbox", "webhook", "email"]
    audience: str = Field(
        description="Event yang didengar: milik audiens ini (the events routed to this "
        "audience): city, agency:<kode>, kelurahan:<kode>, rt:<kelurahan>:<rw>:<rt>"
    )
    event_types: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Jenis event CloudEvents; kosong = semua (empty: all)",
    )
    target: str | None = Field(
        default=None, max_length=500, description="URL webhook atau alamat e-mail"
    )
    language: Literal["id", "en"] = "id"


class SubscriptionView(BaseModel):
    id: str
    owner: str
    channel: str
    audience: str
    event_types: list[str]
    target: str | None
    language: str
    state: str
    disabled_reason: str | None
    failures: int
    created_at: datetime


class CreatedSubscription(SubscriptionView):
    secret: str | None = Field(
        description="Rahasia penandatanganan webhook, hanya ditampilkan sekali "
        "(the webhook signing secret, shown this once)"
    )


class DigestSent(BaseModel):
    day: date
    written: int = Field(description="Ringkasan baru (new digests); 0 bila sudah dikirim")


def _item_json(item: StoredItem) -> str:
    return InboxItemView.model_validate(item, from_attributes=True).model_dump_json()


def routes(runtime: Runtime) -> APIRouter:
    router = APIRouter()
    engine = runtime.engine
    hub = live.hub_for(engine, INBOX_HUB, inbox.counts)

    async def read_after(recipient: str, after: int, limit: int) -> list[StoredItem]:
        return await inbox.after(engine, recipient, after, limit)

    feed = live.Feed(
        read=read_after,
        position=lambda item: item.id,
        name=lambda item: item.event_type,
        data=_item_json,
    )

    @router.get(
        "/inbox",
        dependencies=allow(*EVERYONE),
        summary="Kotak masuk (an inbox)",
        tags=["kotak masuk (inbox)"],
    )
    async def read_inbox(
        recipient: Recipient,
        principal: Caller,
        unread_only: bool = False,
        event_type: Annotated[str | None, Query(max_length=200)] = None,
        before: Annotated[int | None, Query(ge=1, le=POSITION_MAX)] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> InboxView:
        scope.check_own(principal, recipient, "recipient")
        items, unread = await inbox.read(
            engine,
            recipient=recipient,
            limit=limit,
            before=before,
            unread_only=unread_only,
            event_type=event_type,
        )
        return InboxView(
            recipient=recipient,
            unread=unread,
            items=[InboxItemView.model_validate(i, from_attributes=True) for i in items],
            next_before=items[-1].id if len(items) == limit else None,
        )

    @router.post(
        "/inbox/read",
        dependencies=allow(*EVERYONE),
        summary="Tandai dibaca (mark read)",
        tags=["kotak masuk (inbox)"],
    )
    async def mark_read(request: MarkRead, principal: Caller) -> MarkedRead:
        scope.check_own(principal, request.recipient, "recipient")
        marked, unread = await inbox.mark_read(engine, recipient=request.recipient, ids=request.ids)
        return MarkedRead(marked=marked, unread=unread)

    @router.get(
        "/inbox/stream",
        dependencies=allow(*EVERYONE),
        summary="Kotak masuk, langsung (the inbox, live: SSE)",
        description="Item setelah Last-Event-ID atau `after`, lalu setiap item baru. "
        "(The items after Last-Event-ID or `after`, then each new one; id = item id.)",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}},
        tags=["kotak masuk (inbox)"],
    )
    async def inbox_stream(
        recipient: Recipient,
        principal: Caller,
        after: Annotated[int, Query(ge=0, le=POSITION_MAX)] = 0,
        last_event_id: Annotated[
            int | None, Header(alias="Last-Event-ID", ge=0, le=POSITION_MAX)
        ] = None,
    ) -> StreamingResponse:
        scope.check_own(principal, recipient, "recipient")
        start = last_event_id if last_event_id is not None else after
        return StreamingResponse(
            live.stream(hub, feed, recipient, after=start),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @router.post(
        "/subscriptions",
        dependencies=allow(*EVERYONE),
        status_code=201,
        summary="Berlangganan (subscribe)",
        tags=["langganan (subscriptions)"],
    )
    async def subscribe(request: SubscriptionRequest, principal: Caller) -> CreatedSubscription:
        scope.check_own(principal, request.owner, "owner")
        # What it hears must be the caller's too: no subscribing to another agency's events.
        scope.check_own(principal, request.audience, "audience")
        with answers():
            row = await subscriptions.create(
                engine, subscriptions.NewSubscription(**request.model_dump())
            )
        return CreatedSubscription(**row)

    @router.get(
        "/subscriptions",
        dependencies=allow(*EVERYONE),
        summary="Daftar langganan (subscriptions)",
        tags=["langganan (subscriptions)"],
    )
    async def list_subscriptions(
        principal: Caller,
        owner: Annotated[str | None, Query(max_length=100)] = None,
    ) -> list[SubscriptionView]:
        among = scope.own_recipients(principal)
        found = await subscriptions.listed(engine, owner=owner, among=among)
        return [_view(row) for row in found]

    @router.get(
        "/subscriptions/{subscription_id}",
        dependencies=allow(*EVERYONE),
        summary="Satu langganan (one subscription)",
        tags=["langganan (subscriptions)"],
    )
    async def get_subscription(
        subscription_id: Annotated[str, Path(max_length=36)],
        principal: Caller,
    ) -> SubscriptionView:
        with answers():
            found = await subscriptions.get(engine, subscription_id)
        return _view(scope.owned(principal, found))

    @router.delete(
        "/subscriptions/{subscription_id}",
        dependencies=allow(*EVERYONE),
        status_code=204,
        summary="Berhenti berlangganan (unsubscribe)",
        tags=["langganan (subscriptions)"],
    )
    async def unsubscribe(
        subscription_id: Annotated[str, Path(max_length=36)], principal: Caller
    ) -> Response:
        with answers():
            scope.owned(principal, await subscriptions.get(engine, subscription_id))
            await subscriptions.delete(engine, subscription_id)
        return Response(status_code=204)

    @router.post(
        "/digests/{day}",
        dependencies=allow(Role.COORDINATOR),
        summary="Kirim ringkasan harian sekarang (send a day's digest now)",
        description="Ringkasan hari itu untuk setiap kelurahan dan dinas; tiap hari sekali saja. "
        "(That day's digest for every kelurahan and agency; once per day, a repeat adds nothing.)",
        tags=["kotak masuk (inbox)"],
    )
    async def send_digest(day: date) -> DigestSent:
        written = await digest.send_digests(engine, day, datetime.now(UTC))
        return DigestSent(day=day, written=written)

    return router


def _view(row: dict[str, Any]) -> SubscriptionView:
    return SubscriptionView(**{k: v for k, v in row.items() if k != "secret"})
