"""The 100 days: verified extreme-poor households of the priority kelurahan and the city at day
0, now and graduated, their burndown day by day, and the households behind each figure, all
from the poverty history of the verified households."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Literal

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.referrals.directory import WITA, Directory
from services.referrals.models import household_facts, poverty_history


@dataclass(frozen=True)
class HundredDays:
    kelurahan_code: str
    day: int
    extreme_at_start: int
    extreme_now: int
    graduated: int  # extreme at the start or since, not extreme now
    target: int = 0


Histories = dict[str, tuple[str, list[tuple[datetime, str]]]]  # household: (kelurahan, changes)


async def verified_histories(engine: AsyncEngine, *where: ColumnElement[bool]) -> Histories:
    """Each verified household's kelurahan and poverty status changes, in time order: what the
    100-day figures count (only verified data counts in targets). One query, joined; `where`,
    conditions on `household_facts` narrowing the households (a kelurahan, a caller's share)."""
    h, p = household_facts.c, poverty_history.c
    found: Histories = {}
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(p.household_id, h.kelurahan_code, p.since, p.status)
            .join(household_facts, h.household_id == p.household_id)
            .where(h.verified.is_(True), *where)
        )
        for household_id, kelurahan_code, since, status in rows:
            entry = found.get(household_id)
            if entry is None:
                entry = found[household_id] = (kelurahan_code, [])
            entry[1].append((_aware(since), status))
    for _, changes in found.values():
        changes.sort()
    return found


def _start(directory: Directory) -> datetime:
    return datetime.combine(directory.hundred_days_start, time(), WITA).astimezone(UTC)


# The figures of a 100-day card whose households can be listed, by the name the API uses.
Cohort = Literal["at_start", "now", "graduated"]


@dataclass(frozen=True)
class Standing:
    """Which of a card's figures one verified household counts in."""

    at_start: bool  # extreme at day 0: its last status before the start (WITA midnight)
    now: bool  # extreme now: its last status
    graduated: bool  # extreme at the start or since, not extreme now


def standing(changes: list[tuple[datetime, str]], start: datetime) -> Standing:
    """The one classification behind both the 100-day counts and their lists, so a list can
    never disagree with the figure it opens. `changes`: statuses in time order, at least one."""
    before = [s for at, s in changes if at < start]
    at_start = bool(before) and before[-1] == "miskin_ekstrem"
    ever = at_start or any(s == "miskin_ekstrem" for at, s in changes if at >= start)
    now_extreme = changes[-1][1] == "miskin_ekstrem"
    return Standing(at_start, now_extreme, ever and not now_extreme)


async def hundred_days(
    engine: AsyncEngine, directory: Directory, now: datetime, histories: Histories | None = None
) -> list[HundredDays]:
    """Per priority kelurahan and the city: verified extreme-poor households at day 0 and now,
    and graduated, as `standing` classifies them."""
    start = _start(directory)
    if histories is None:
        histories = await verified_histories(engine)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for kelurahan_code, changes in histories.values():
        stands = standing(changes, start)
        for key in (kelurahan_code, "kota"):
            counts[key][0] += stands.at_start
            counts[key][1] += stands.now
            counts[key][2] += stands.graduated
    day = max(0, (now - start).days)
    return [
        HundredDays(code, day, *counts[code])
        for code in [*directory.hundred_days_kelurahan, "kota"]
    ]


@dataclass(frozen=True)
class CohortHousehold:
    household_id: str
    kelurahan_code: str
    rw: int
    rt: int
    poverty_status: str | None


@dataclass(frozen=True)
class CohortPage:
    items: list[CohortHousehold]
    next_after: str | None  # the last id here, when more follow


async def cohort_households(
    engine: AsyncEngine,
    directory: Directory,
    kelurahan: str,
    cohort: Cohort,
    *,
    after: str | None,
    limit: int,
    within: ColumnElement[bool] | None = None,
) -> CohortPage:
    """The households one figure of `hundred_days` counts, for a kelurahan code or "kota", by
    household id; `after` is the last id of the previous page; `within`, the caller's share
    (scope.visible_households). Each page classifies afresh the histories of its area past
    `after` (the city's, for "kota"): `standing` is Python, so SQL cannot page it."""
    h = household_facts.c
    where = [] if kelurahan == "kota" else [h.kelurahan_code == kelurahan]
    if within is not None:
        where.append(within)
    if after:
        where.append(h.household_id > after)
    start = _start(directory)
    histories = await verified_histories(engine, *where)
    counted = sorted(
        key for key, (_, changes) in histories.items() if getattr(standing(changes, start), cohort)
    )
    page = counted[:limit]
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(h.household_id, h.kelurahan_code, h.rw, h.rt, h.poverty_status)
            .where(h.household_id.in_(page))
            .order_by(h.household_id)
        )
        items = [CohortHousehold(*row) for row in rows]
    return CohortPage(items, page[-1] if len(counted) > limit else None)


async def burndown(
    engine: AsyncEngine, directory: Directory, now: datetime, histories: Histories | None = None
) -> dict[str, list[int]]:
    """Per priority kelurahan and the city: verified extreme-poor households at the start
    (point 0), at the end of each day of the 100 days so far, and now (the last point), as
    `hundred_days` counts them."""
    start = _start(directory)
    days = min(directory.hundred_days, max(0, (now - start).days))
    keys = [*directory.hundred_days_kelurahan, "kota"]
    deltas = {key: [0] * (days + 1) for key in keys}
    if histories is None:
        histories = await verified_histories(engine)
    for kelurahan_code, changes in histories.values():
        targets = [k for k in (kelurahan_code, "kota") if k in deltas]
        extreme = False  # as the day's counting goes: the last status so far
        for at, status in changes:
            now_extreme = status == "miskin_ekstrem"
            if now_extreme == extreme:
                continue
            day = 0 if at < start else (at - start).days + 1  # in the count at its day's end
            if day > directory.hundred_days:
                break
            day = min(day, days)  # today's changes are in the last point: now
            for key in targets:
                deltas[key][day] += 1 if now_extreme else -1
            extreme = now_extreme
    series: dict[str, list[int]] = {}
    for key, changes_by_day in deltas.items():
        running, counts = 0, []
        for change in changes_by_day:
            running += change
            counts.append(running)
        series[key] = counts
    return series


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
