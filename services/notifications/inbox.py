"""Reading inboxes and marking items read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from services.notifications.models import inbox_items
from sinergi.db import chunks

# The live streams' hub of inboxes (sinergi.live): woken by whoever writes an inbox item.
INBOX_HUB = "inbox"

_ITEM = (
    inbox_items.c.id,
    inbox_items.c.event_id,
    inbox_items.c.event_type,
    inbox_items.c.household_id,
    inbox_items.c.title,
    inbox_items.c.body,
    inbox_items.c.created_at,
    inbox_items.c.read_at,
)


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


async def read(
    engine: AsyncEngine,
    *,
    recipient: str,
    limit: int,
    before: int | None = None,
    unread_only: bool = False,
    event_type: str | None = None,
) -> tuple[list[StoredItem], int]:
    """Newest first, with the recipient's number of unread items."""
    t = inbox_items.c
    query = select(*_ITEM).where(t.recipient == recipient)
    if before is not None:
        query = query.where(t.id < before)
    if unread_only:
        query = query.where(t.read_at.is_(None))
    if event_type:
        query = query.where(t.event_type == event_type)
    async with engine.connect() as conn:
        # The count first, with the newest item it counted; the items then up to that one.
        # Each statement reads its own snapshot, so an item arriving between the two would
        # otherwise be counted unread and missing from the list (or the other way round).
        newest, unread = (
            await conn.execute(
                select(func.max(t.id), func.count().filter(t.read_at.is_(None))).where(
                    t.recipient == recipient
                )
            )
        ).one()
        if newest is None:
            return [], 0
        query = query.where(t.id <= newest).order_by(t.id.desc()).limit(limit)
        rows = (await conn.execute(query)).all()
    return [StoredItem(**row._asdict()) for row in rows], int(unread or 0)


async def after(engine: AsyncEngine, recipient: str, after_id: int, limit: int) -> list[StoredItem]:
    """Oldest first from `after_id`: what a live stream sends."""
    t = inbox_items.c
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(*_ITEM)
            .where(t.recipient == recipient, t.id > after_id)
            .order_by(t.id)
            .limit(limit)
        )
        return [StoredItem(**row._asdict()) for row in rows]


async def counts(engine: AsyncEngine, recipients: Sequence[str]) -> Mapping[str, int]:
    """Items per recipient: the live streams' shared poll."""
    t = inbox_items.c
    found: dict[str, int] = {}
    async with engine.connect() as conn:
        for chunk in chunks(list(recipients)):
            rows = await conn.execute(
                select(t.recipient, func.count())
                .where(t.recipient.in_(chunk))
                .group_by(t.recipient)
            )
            found.update({recipient: int(n) for recipient, n in rows})
    return found


async def mark_read(
    engine: AsyncEngine, *, recipient: str, ids: Sequence[int] | None
) -> tuple[int, int]:
    """Mark `ids` (all when None) of the recipient read; (newly marked, unread left)."""
    t = inbox_items.c
    async with engine.begin() as conn:
        marked = 0
        for chunk in [None] if ids is None else chunks(list(ids)):
            statement = update(inbox_items).where(t.recipient == recipient, t.read_at.is_(None))
            if chunk is not None:
                statement = statement.where(t.id.in_(chunk))
            result = await conn.execute(statement.values(read_at=datetime.now(UTC)))
            marked += result.rowcount or 0
        unread = await conn.scalar(
            select(func.count())
            .select_from(inbox_items)
            .where(t.recipient == recipient, t.read_at.is_(None))
        )
    return marked, int(unread or 0)
