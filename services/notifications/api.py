"""HTTP routes of the notifications service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from services.notifications import handlers
from services.notifications.domain import kelurahan_inbox
from sinergi.service import Runtime


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
    unread: int
    items: list[InboxItemView]


def routes(runtime: Runtime) -> APIRouter:
    router = APIRouter(tags=["kotak masuk (inbox)"])

    @router.get(
        "/inbox/kelurahan/{kelurahan_code}",
        summary="Kotak masuk kelurahan (a kelurahan's inbox)",
    )
    async def kelurahan(
        kelurahan_code: Annotated[str, Path(pattern=r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$")],
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> InboxView:
        recipient = kelurahan_inbox(kelurahan_code)
        items, unread = await handlers.read_inbox(runtime.engine, recipient=recipient, limit=limit)
        return InboxView(
            recipient=recipient,
            unread=unread,
            items=[InboxItemView.model_validate(i, from_attributes=True) for i in items],
        )

    return router
