"""Coordinator queries: referrals by state, agency, kelurahan, age and escalation rung; handoff
latency per agency; overdue referrals; the 100-day figures of the priority kelurahan; the
stunted children found and referred."""

from __future__ import annotations

import asyncio
import json
import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Final, Literal
from uuid import UUID

from sinergi_contracts import (
    ChildMeasured,
    ChildStuntingDetected,
    HouseholdRegistered,
    HouseholdVerified,
    HouseholdVisited,
    MembersMerged,
)
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.referrals import lifecycle
from services.referrals.directory import WITA, Directory
from services.referrals.models import (
    household_facts,
    poverty_history,
    referral_steps,
    referrals,
    timeline_entries,
)
from services.referrals.referrals import Referral, from_row
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


@dataclass(frozen=True)
class StuntedChild:
    """One child the stunting figures count: as the record kept, if merged."""

    member_id: str
    household_id: str  # its household by the events: the stunting one's, or the merge's kept
    referred: bool  # a referral that still stands names the child


async def stunted_children(engine: AsyncEngine) -> list[StuntedChild]:
    """Children with a child_stunting_detected event on the timeline, by member id: the one
    set behind both the stunting counts and their lists, so a list always adds up to its
    figure. A child whose record was merged into another is one child, the record kept."""
    t = timeline_entries.c
    kinds = (ChildStuntingDetected.ce_type(), MembersMerged.ce_type())
    found: dict[str, str] = {}  # member: household, by its latest event
    kept: dict[str, tuple[str, str]] = {}  # removed member: (kept member, its household)
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(t.type, t.data).where(t.type.in_(kinds)).order_by(t.stream_seq)
        )
        for kind, data in rows:
            event = json.loads(data)
            if kind == kinds[0]:
                found[str(event["member_id"])] = str(event["household_id"])
            else:
                removed = str(event["removed_member_id"])
                kept[removed] = (str(event["kept_member_id"]), str(event["kept_household_id"]))
        referred = {
            str(m)
            for (m,) in await conn.execute(
                select(referrals.c.member_id).where(
                    referrals.c.member_id.is_not(None),
                    referrals.c.status.not_in(("entered-in-error", "cancelled")),
                )
            )
        }

    def person(member: str, household: str) -> tuple[str, str]:
        seen = {member}
        while member in kept and kept[member][0] not in seen:  # merges chain; never loop
            member, household = kept[member]
            seen.add(member)
        return member, household

    children = dict(person(m, h) for m, h in found.items())
    return [StuntedChild(m, h, m in referred) for m, h in sorted(children.items())]


LOOKUP = 500  # households one query looks up: few bound ids, for any database
UNKNOWN_KELURAHAN: Final = "belum_tercatat"  # a household this service has not learnt yet


@dataclass(frozen=True)
class Stunting:
    children_found: int  # children with a child_stunting_detected event on the timeline
    children_referred: int  # … of whom a referral names the child
    # The same two per kelurahan (its code: {"found": n, "referred": m}): what the figures
    # break down to for those who may not list the children (health data), coordinators.
    by_kelurahan: dict[str, dict[str, int]]


async def stunting(engine: AsyncEngine) -> Stunting:
    """Stunted children found (by the registry's measurements) and referred, as
    `stunted_children` has them, in all and per kelurahan (their household's)."""
    children = await stunted_children(engine)
    h = household_facts.c
    places: dict[str, str] = {}
    households = sorted({c.household_id for c in children})
    async with engine.connect() as conn:
        for start in range(0, len(households), LOOKUP):
            chunk = households[start : start + LOOKUP]
            query = select(h.household_id, h.kelurahan_code).where(h.household_id.in_(chunk))
            places.update({household: code for household, code in await conn.execute(query)})
    by_kelurahan: dict[str, dict[str, int]] = {}
    for child in children:
        code = places.get(child.household_id, UNKNOWN_KELURAHAN)
        counts = by_kelurahan.setdefault(code, {"found": 0, "referred": 0})
        counts["found"] += 1
        counts["referred"] += child.referred
    referred = sum(c.referred for c in children)
    return Stunting(len(children), referred, dict(sorted(by_kelurahan.items())))


@dataclass(frozen=True)
class StuntedChildListed:
    member_id: str
    household_id: str
    kelurahan_code: str
    referred: bool


@dataclass(frozen=True)
class StuntedPage:
    items: list[StuntedChildListed]
    next_after: str | None  # the last member id here, when more follow


async def stunted_children_page(
    engine: AsyncEngine,
    *,
    referred: bool | None,
    after: str | None,
    limit: int,
    within: ColumnElement[bool] | None = None,
) -> StuntedPage:
    """The children `stunting` counts (`referred`: only those referred, or not; None: all),
    by member id; `after` is the last member id of the previous page; `within`, the caller's
    share (scope.visible_households). Each child's kelurahan is its household's as this
    service knows it: a household it has not learnt yet is in no list until it has."""
    children = [
        c
        for c in await stunted_children(engine)
        if (referred is None or c.referred is referred) and (after is None or c.member_id > after)
    ]
    h = household_facts.c
    shown: list[StuntedChildListed] = []
    async with engine.connect() as conn:
        # A chunk of children at a time, in order, until a page and one more are shown.
        for start in range(0, len(children), LOOKUP):
            chunk = children[start : start + LOOKUP]
            query = select(h.household_id, h.kelurahan_code).where(
                h.household_id.in_({c.household_id for c in chunk})
            )
            if within is not None:
                query = query.where(within)
            known = {household: code for household, code in await conn.execute(query)}
            shown += [
                StuntedChildListed(c.member_id, c.household_id, known[c.household_id], c.referred)
                for c in chunk
                if c.household_id in known
            ]
            if len(shown) > limit:
                break
    page = shown[:limit]
    return StuntedPage(page, page[-1].member_id if len(shown) > limit else None)


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
