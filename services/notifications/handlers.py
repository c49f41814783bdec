"""Notifications use cases: filling inboxes from events and reading them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.notifications.domain import inbox_items_for
from services.notifications.models import inbox_items
from sinergi.consumer import Delivered


async def fill_inboxes(conn: AsyncConnection, batch: Sequence[Delivered]) -> None:
    rows = [vars(item) for d in batch for item in inbox_items_for(d.envelope)]
    if rows:
        await conn.execute(insert(inbox_items), rows)


@dataclass(frozen=True)
class StoredItem:
    id: int
    event_id: str
    event_type: str
    household_id: str
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None


async def read_inbox(
    engine: AsyncEngine, *, recipient: str, limit: int
) -> tuple[list[StoredItem], int]:
    """Newest first, with the number of unread items."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    inbox_items.c.id,
                    inbox_items.c.event_id,
                    inbox_items.c.event_type,
                    inbox_items.c.household_id,
                    inbox_items.c.title,
                    inbox_items.c.body,
                    inbox_items.c.created_at,
                    inbox_items.c.read_at,
                )
                .where(inbox_items.c.recipient == recipient)
                .order_by(inbox_items.c.id.desc())
                .limit(limit)
            )
        ).all()
        unread = await conn.scalar(
            select(func.count())
            .select_from(inbox_items)
            .where(inbox_items.c.recipient == recipient, inbox_items.c.read_at.is_(None))
        )
    return [StoredItem(**row._asdict()) for row in rows], int(unread or 0)
