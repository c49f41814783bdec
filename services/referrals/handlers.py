"""Referrals use cases: projecting the timeline and reading it."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.dml import Insert

from services.referrals.domain import TimelineEntry, timeline_entry
from services.referrals.models import timeline_entries
from sinergi import live
from sinergi.consumer import Delivered, after_commit
from sinergi.db import insert_ignoring_repeats

# The columns in the order of TimelineEntry's fields, so a row is its positional arguments.
ENTRY_COLUMNS = tuple(timeline_entries.c[f.name] for f in dataclasses.fields(TimelineEntry))


def insert_if_absent(conn: AsyncConnection) -> Insert:
    """INSERT … ON CONFLICT (event_id) DO NOTHING: an entry already there (from a rebuild that
    ran ahead of this consumer) is the same entry, so it is kept and the batch goes on."""
    statement: Insert = insert_ignoring_repeats(conn, timeline_entries, key="event_id")
    return statement


LIVE_HUB = "timeline"
CITY_HUB, CITY = "city", "kota"  # the whole city's timeline: "something changed" streams


async def project_timeline(conn: AsyncConnection, batch: Sequence[Delivered]) -> None:
    """Append a batch of events to the timeline, in the transaction of the batch; once it has
    committed, wake the live streams (SSE) of the households it touched in this process."""
    # vars(), not asdict(): asdict deep-copies each event's data and cost half the batch time.
    rows = [vars(timeline_entry(d)) for d in batch]
    await conn.execute(insert_if_absent(conn), rows)
    engine, households = conn.engine, {row["household_id"] for row in rows}

    def wake() -> None:
        live.announce(engine, LIVE_HUB, households)
        live.announce(engine, CITY_HUB, (CITY,))

    after_commit(wake)


def _page(*, newest_first: bool, bounded: bool) -> Select[Any]:
    t = timeline_entries.c
    query = select(*ENTRY_COLUMNS).where(
        t.household_id == bindparam("household_id"), t.stream_seq > bindparam("after")
    )
    if bounded:
        query = query.where(t.stream_seq < bindparam("before"))
    order = t.stream_seq.desc() if newest_first else t.stream_seq
    return query.order_by(order).limit(bindparam("limit"))


# Built once: building and keying the statement on every read was a third of its time.
_PAGES = {
    (newest_first, bounded): _page(newest_first=newest_first, bounded=bounded)
    for newest_first in (False, True)
    for bounded in (False, True)
}


async def household_timeline(
    engine: AsyncEngine,
    *,
    household_id: UUID | str,
    after: int = 0,
    before: int | None = None,
    newest_first: bool = False,
    limit: int,
) -> list[TimelineEntry]:
    """One page of a household's timeline: stream_seq in (after, before), in stream order or
    newest first. Keyset pages on the (household_id, stream_seq) index."""
    query = _PAGES[newest_first, before is not None]
    values = {"household_id": str(household_id), "after": after, "limit": limit}
    if before is not None:
        values["before"] = before
    async with engine.connect() as conn:
        rows = (await conn.execute(query, values)).all()
    return [TimelineEntry(*row) for row in rows]


async def latest_position(engine: AsyncEngine) -> int:
    """The last stream position in the timeline (0 when empty)."""
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.max(timeline_entries.c.stream_seq))) or 0)


async def city_positions(engine: AsyncEngine, keys: Sequence[str]) -> dict[str, int]:
    """The live hub's counter for the city key: its latest position."""
    return {CITY: await latest_position(engine)} if CITY in keys else {}


async def timeline_counts(engine: AsyncEngine, household_ids: Sequence[str]) -> dict[str, int]:
    """How many entries each household has (those with none are left out)."""
    t = timeline_entries.c
    counts: dict[str, int] = {}
    async with engine.connect() as conn:
        for start in range(0, len(household_ids), 500):
            chunk = household_ids[start : start + 500]
            rows = await conn.execute(
                select(t.household_id, func.count())
                .where(t.household_id.in_(chunk))
                .group_by(t.household_id)
            )
            counts.update({household: int(count) for household, count in rows})
    return counts
