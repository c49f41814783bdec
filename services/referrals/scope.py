"""Which referrals and households a caller may see: object-level authorisation in referrals.

An agency sees the referrals addressed to it or sent by it, and the timeline and benefits of
the households those referrals are about; a kelurahan its kelurahan's (and those it sent); a
kecamatan its kelurahan's; a coordinator (and other services) the whole city. What a caller
may not see answers 404, as if it did not exist, so ids cannot be probed.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import Depends
from sqlalchemy import ColumnElement, and_, exists, false, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.referrals.directory import Directory
from services.referrals.models import household_facts, referrals
from services.referrals.referrals import Referral
from sinergi.auth import AGENCY_ROLES, Caller, Principal, Role
from sinergi.errors import problem

HOUSEHOLD_NOT_FOUND = "Rumah tangga tidak ditemukan (household not found)"
REFERRAL_NOT_FOUND = "Rujukan tidak ditemukan (referral not found)"


def visible_referrals(principal: Principal) -> ColumnElement[bool] | None:
    """The SQL condition on `referrals` for what the caller sees (None: everything)."""
    t = referrals.c
    if principal.city_wide:
        return None
    if principal.role in AGENCY_ROLES:
        return or_(t.agency == principal.agency, t.referrer == principal.actor)
    if principal.role is Role.KECAMATAN:
        return t.kelurahan_code.startswith(f"{principal.kecamatan}.", autoescape=True)
    if principal.role is Role.KELURAHAN:
        return or_(t.kelurahan_code == principal.kelurahan, t.referrer == principal.actor)
    return false()


def sees_referral(principal: Principal, referral: Referral) -> bool:
    if principal.city_wide:
        return True
    if principal.role in AGENCY_ROLES:
        return principal.actor in (f"agency:{referral.agency}", referral.referrer)
    if principal.role in (Role.KECAMATAN, Role.KELURAHAN):
        return (
            principal.covers_kelurahan(referral.kelurahan_code)
            or referral.referrer == principal.actor
        )
    return False


def _in_area(principal: Principal) -> ColumnElement[bool]:
    facts = household_facts.c
    if principal.role is Role.KECAMATAN:
        return facts.kelurahan_code.startswith(f"{principal.kecamatan}.", autoescape=True)
    return facts.kelurahan_code == principal.kelurahan


def visible_households(principal: Principal) -> ColumnElement[bool] | None:
    """The SQL condition on `household_facts` for the households the caller sees (None:
    every one): an agency's through its referrals, the others' by area."""
    if principal.city_wide:
        return None
    if principal.role in AGENCY_ROLES:
        theirs = visible_referrals(principal)
        assert theirs is not None  # an agency's share is never the whole city
        served = select(referrals.c.household_id).where(theirs)
        return household_facts.c.household_id.in_(served)
    return _in_area(principal)


def check_kelurahan(principal: Principal, kelurahan_code: str) -> None:
    """A filter naming another area's kelurahan answers 403 naming the field, as the
    registry's lists do; an agency, which sees households through its referrals and not by
    area, may name any (its share narrows the answer instead)."""
    if principal.role in (Role.KELURAHAN, Role.KECAMATAN) and not principal.covers_kelurahan(
        kelurahan_code
    ):
        raise problem(403, "kelurahan di luar wilayah Anda (kelurahan is outside your area)")


async def sees_household(engine: AsyncEngine, principal: Principal, household_id: UUID) -> bool:
    if principal.city_wide:
        return True
    key = str(household_id)
    if principal.role in AGENCY_ROLES:
        theirs = visible_referrals(principal)
        assert theirs is not None  # an agency's share is never the whole city
        condition: Any = exists().where(and_(referrals.c.household_id == key, theirs))
    else:
        facts = household_facts.c
        condition = exists().where(and_(facts.household_id == key, _in_area(principal)))
    async with engine.connect() as conn:
        return bool(await conn.scalar(select(condition)))


def household_seen(engine: AsyncEngine) -> Any:
    """A route dependency: the path's household is one the caller may see (404 otherwise)."""

    async def check(household_id: UUID, principal: Caller) -> None:
        if not await sees_household(engine, principal, household_id):
            raise problem(404, HOUSEHOLD_NOT_FOUND)

    return Depends(check)


def referral_seen(referral: Referral, principal: Principal) -> Referral:
    if not sees_referral(principal, referral):
        raise problem(404, REFERRAL_NOT_FOUND)
    return referral


def sees_health(principal: Principal, directory: Directory) -> bool:
    """Whether the caller reads health details (child measurements, pregnancy, disability):
    cadres, the household's kelurahan (object level already holds it to its own), health
    agencies (`health: true` in the directory) and other services; not other agencies,
    kecamatan or coordinators, who work from counts."""
    if principal.role in (Role.SYSTEM, Role.KADER, Role.KELURAHAN):
        return True
    agency = directory.agencies.get(principal.agency or "")
    return principal.role in AGENCY_ROLES and agency is not None and agency.health
