"""Coordinator queries: referrals by state, agency, kelurahan, age and escalation rung; handoff
latency and the referral funnel per agency; contributions per RT and recorder; and the
dashboard that gathers them with the 100 days (`hundred_days`) and stunting (`stunting`)."""

from __future__ import annotations

import asyncio
import json
import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from uuid import UUID

from sinergi_contracts import (
    ChildMeasured,
    HouseholdRegistered,
    HouseholdVerified,
    HouseholdVisited,
)
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.referrals import lifecycle
from services.referrals.directory import Directory
from services.referrals.hundred_days import burndown, hundred_days, verified_histories
from services.referrals.models import (
    household_facts,
    referral_steps,
    referrals,
    timeline_entries,
)
from services.referrals.referrals import Referral, from_row
from services.referrals.stunting import stunting
from sinergi.db import create_engine
from sinergi.errors import FieldRejected


@dataclass(frozen=True)
class ReferralFilter:
    status: str | None = None
    agency: str | None = None
    kelurahan_code: str | None = None
    household_id: UUID | None = None
    older_than_days: float | None = None
    overdue: bool | None = None
    escalation_level: int | None = None  # a rung of the ladder, as `funnel` counts it


async def list_referrals(
    engine: AsyncEngine,
    where: ReferralFilter,
    *,
    after: str | None,
    limit: int,
    now: datetime,
    within: ColumnElement[bool] | None = None,
) -> list[Referral]:
    """Oldest request first; `after` is the id of the last referral of the previous page;
    `within`, the caller's share (scope.visible_referrals)."""
    t = referrals.c
    query = select(referrals)
    if within is not None:
        query = query.where(within)
    if where.status:
        query = query.where(t.status == where.status)
    if where.agency:
        query = query.where(t.agency == where.agency)
    if where.kelurahan_code:
        query = query.where(t.kelurahan_code == where.kelurahan_code)
    if where.household_id:
        query = query.where(t.household_id == str(where.household_id))
    if where.older_than_days is not None:
        query = query.where(t.requested_at <= now - timedelta(days=where.older_than_days))
    if where.overdue is not None:
        late = and_(t.open_slot.is_not(None), t.due_at <= now)
        query = query.where(late if where.overdue else ~late)
    if where.escalation_level is not None:
        query = query.where(rung(where.escalation_level))
    if after:
        mark = await _requested_at(engine, after)
        query = query.where(or_(t.requested_at > mark, and_(t.requested_at == mark, t.id > after)))
    query = query.order_by(t.requested_at, t.id).limit(limit)
    async with engine.connect() as conn:
        return [from_row(row) for row in await conn.execute(query)]


def rung(level: int) -> ColumnElement[bool]:
    """The referrals at one rung of the ladder: the first holds level 0 too (overdue, not yet
    raised by the deadline check), as `funnel` counts `max(1, level)`."""
    level_of = referrals.c.escalation_level
    return level_of <= 1 if level == 1 else level_of == level


async def _requested_at(engine: AsyncEngine, referral_id: str) -> datetime:
    async with engine.connect() as conn:
        mark = await conn.scalar(
            select(referrals.c.requested_at).where(referrals.c.id == referral_id)
        )
    if mark is None:
        raise FieldRejected(
            field="after",
            rule="cursor",
            pesan="kursor halaman tidak dikenal; pakai next_after dari halaman sebelumnya",
            message="unknown page cursor; use next_after from the previous page",
        )
    return mark


@dataclass(frozen=True)
class Latency:
    agency: str
    step: str  # "requested→accepted" or "accepted→completed"
    count: int
    median_hours: float
    p90_hours: float


async def handoff_latency(engine: AsyncEngine) -> list[Latency]:
    """Per agency: hours from requested to accepted and from accepted to completed."""
    times: dict[str, dict[str, datetime]] = defaultdict(dict)
    agencies: dict[str, str] = {}
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(
                referral_steps.c.referral_id,
                referral_steps.c.agency,
                referral_steps.c.status,
                referral_steps.c.at,
            ).where(referral_steps.c.status.in_(("requested", "accepted", "completed")))
        )
        for referral_id, agency, status, at in rows:
            times[referral_id].setdefault(status, at)
            agencies[referral_id] = agency
    spans: dict[tuple[str, str], list[float]] = defaultdict(list)
    for referral_id, marks in times.items():
        for start, end in (("requested", "accepted"), ("accepted", "completed")):
            if start in marks and end in marks:
                hours = (marks[end] - marks[start]).total_seconds() / 3600
                spans[agencies[referral_id], f"{start}→{end}"].append(hours)
    return [
        Latency(agency, step, len(values), statistics.median(values), _p90(values))
        for (agency, step), values in sorted(spans.items())
    ]


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


def benefits(household_referrals: list[Referral]) -> list[dict[str, Any]]:
    """The programmes a household receives or received, across funders."""
    return [
        {
            "referral_id": r.id,
            "programme": r.programme,
            "agency": r.agency,
            "funding": r.funding,
            "status": r.status,
            "since": r.status_since,
        }
        for r in household_referrals
        if r.status in lifecycle.ACTIVE
    ]


@dataclass(frozen=True)
class AgencyFunnel:
    agency: str
    by_status: dict[str, int]  # every status, zero included
    overdue_by_level: dict[int, int]  # escalation level (1 = first rung) -> open referrals


async def funnel(engine: AsyncEngine, directory: Directory, now: datetime) -> list[AgencyFunnel]:
    """Per agency of the directory: referrals by status, and the open ones past their deadline
    by the escalation level they have reached."""
    t = referrals.c
    counts: dict[str, dict[str, int]] = {
        code: dict.fromkeys(lifecycle.STATUSES, 0) for code in directory.agencies
    }
    overdue: dict[str, dict[int, int]] = {code: {} for code in directory.agencies}
    async with engine.connect() as conn:
        for agency, status, n in await conn.execute(
            select(t.agency, t.status, func.count()).group_by(t.agency, t.status)
        ):
            counts.setdefault(agency, dict.fromkeys(lifecycle.STATUSES, 0))[status] = n
        late = and_(t.open_slot.is_not(None), t.due_at <= now)
        for agency, level, n in await conn.execute(
            select(t.agency, t.escalation_level, func.count())
            .where(late)
            .group_by(t.agency, t.escalation_level)
        ):
            rung_of = max(1, level)  # overdue before the deadline check raised it: the first
            counted = overdue.setdefault(agency, {})
            counted[rung_of] = counted.get(rung_of, 0) + n
    return [AgencyFunnel(a, counts[a], overdue.get(a, {})) for a in counts]


# What counts towards the city's incentive payments, by the events that record it.
CONTRIBUTIONS: Final = {
    HouseholdRegistered.ce_type(): "registered",
    HouseholdVerified.ce_type(): "verified",
    HouseholdVisited.ce_type(): "visits",
    ChildMeasured.ce_type(): "measurements",
}
# Done by a person, not an area: counted for whoever recorded it.
PERSONAL: Final = frozenset({"visits", "measurements"})


@dataclass(frozen=True)
class Contribution:
    kelurahan_code: str | None  # per RT: its kelurahan, RW and RT; per person: None
    rw: int | None
    rt: int | None
    recorded_by: str | None  # per person: "<role>:<name>" as the events record it
    registered: int = 0
    verified: int = 0
    visits: int = 0
    measurements: int = 0


async def contributions(
    engine: AsyncEngine, start: datetime, end: datetime, *, kelurahan_prefix: str = ""
) -> tuple[list[Contribution], list[Contribution]]:
    """Per RT (households registered and verified, visits, measurements of its households)
    and per person who recorded visits and measurements, between `start` and `end`; only
    kelurahan whose code starts with `kelurahan_prefix` (a kelurahan's, a kecamatan's)."""
    t, h = timeline_entries.c, household_facts.c
    per_rt: dict[tuple[str, int, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    per_person: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    query = (
        select(t.type, t.data, h.kelurahan_code, h.rw, h.rt)
        .join(household_facts, h.household_id == t.household_id)
        .where(t.type.in_(CONTRIBUTIONS), t.occurred_at >= start, t.occurred_at < end)
        .where(h.kelurahan_code.startswith(kelurahan_prefix, autoescape=True))
    )
    async with engine.connect() as conn:
        for kind, data, kelurahan_code, rw, rt in await conn.execute(query):
            what = CONTRIBUTIONS[kind]
            per_rt[kelurahan_code, rw, rt][what] += 1
            if what in PERSONAL and (who := json.loads(data).get("recorded_by")):
                per_person[who][what] += 1
    rts = [
        Contribution(k, rw, rt, None, **counts) for (k, rw, rt), counts in sorted(per_rt.items())
    ]
    people = [Contribution(None, None, None, who, **c) for who, c in sorted(per_person.items())]
    return rts, people


class DashboardCache:
    """The dashboard, computed once for every reader until the data under it changes.

    Its figures read the whole city (tens of thousands of rows); the key is cheap: the
    timeline's last position (every event the service projected, its own referral events
    included), the referrals' last change, and the minute (day boundaries, deadlines). Readers
    arriving while it is computed wait for that one computation, which runs in a thread with
    an event loop and a database connection of its own (`database`: the service's URL and
    schema): at 50,000 households it takes ~0.4 s, and the service's own loop goes on
    answering and consuming meanwhile instead of stalling for all of it.
    """

    def __init__(
        self, engine: AsyncEngine, directory: Directory, database: tuple[str, str | None]
    ) -> None:
        self._engine, self._directory, self._database = engine, directory, database
        self._kept: tuple[tuple[Any, ...], dict[str, Any]] | None = None
        self._lock = asyncio.Lock()

    async def _key(self, now: datetime) -> tuple[Any, ...]:
        async with self._engine.connect() as conn:
            position = await conn.scalar(select(func.max(timeline_entries.c.stream_seq)))
            changed = (
                await conn.execute(
                    select(
                        func.count(),
                        func.max(referrals.c.status_since),
                        func.sum(referrals.c.version),
                    )
                )
            ).one()
        return (position, *changed, now.replace(second=0, microsecond=0))

    async def read(self, now: datetime) -> dict[str, Any]:
        async with self._lock:
            key = await self._key(now)
            if self._kept is not None and self._kept[0] == key:
                return self._kept[1]
            value = await asyncio.to_thread(self._computed_apart, now)
            self._kept = (key, value)
            return value

    def _computed_apart(self, now: datetime) -> dict[str, Any]:
        async def computed() -> dict[str, Any]:
            url, schema = self._database
            engine = create_engine(url, schema=schema)
            try:
                return await dashboard(engine, self._directory, now)
            finally:
                await engine.dispose()

        return asyncio.run(computed())


async def dashboard(engine: AsyncEngine, directory: Directory, now: datetime) -> dict[str, Any]:
    """The coordinators' 100-day dashboard in one read."""
    histories = await verified_histories(engine)
    return {
        "now": now,
        "start": directory.hundred_days_start,
        "days": directory.hundred_days,
        "ladder": list(directory.ladder),
        "hundred_days": [asdict(x) for x in await hundred_days(engine, directory, now, histories)],
        "burndown": await burndown(engine, directory, now, histories),
        "funnel": [asdict(x) for x in await funnel(engine, directory, now)],
        "latency": [asdict(x) for x in await handoff_latency(engine)],
        "stunting": asdict(await stunting(engine)),
    }
