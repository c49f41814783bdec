"""Stunted children found (by the registry's measurements) and referred: the one set behind
the dashboard's stunting figures, their breakdown per kelurahan, and their lists."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from sinergi_contracts import ChildStuntingDetected, MembersMerged
from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.referrals.models import household_facts, referrals, timeline_entries


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
