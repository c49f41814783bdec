"""Which households a caller may see and change: object-level authorisation in the registry.

An RT works on its own RT, a kader and a kelurahan on their kelurahan, a kecamatan on its
kelurahan, a coordinator (and other services) on the whole city. A household outside the
caller's area answers 404, as if it did not exist, so ids cannot be probed; a request that
names another area (a filter, a new household's address) answers 403 naming the field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar
from uuid import UUID

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncEngine

from services.registry.duplicates import CandidateFilter
from services.registry.import_rows import HouseholdData, Problem
from services.registry.queries import HouseholdFilter, household_address
from services.registry.schemas import HouseholdView
from sinergi.auth import Caller, Principal, Role
from sinergi.errors import problem

NOT_FOUND = "Rumah tangga tidak ditemukan (household not found)"
HouseholdViewT = TypeVar("HouseholdViewT", bound=HouseholdView)


def outside(field: str) -> Exception:
    return problem(403, f"{field} di luar wilayah Anda ({field} is outside your area)")


def narrowed(where: HouseholdFilter, principal: Principal) -> HouseholdFilter:
    """`where` limited to the caller's area."""
    if principal.city_wide:
        return where
    if principal.role is Role.KECAMATAN:
        if where.kelurahan_code and not principal.covers_kelurahan(where.kelurahan_code):
            raise outside("kelurahan_code")
        return replace(where, kecamatan_code=principal.kecamatan)
    rw = principal.rw if principal.role in (Role.RT, Role.KADER) else None
    rt = principal.rt if principal.role is Role.RT else None
    own: dict[str, str | int | None] = {"kelurahan_code": principal.kelurahan, "rw": rw, "rt": rt}
    for field, value in own.items():
        asked = getattr(where, field)
        if value is not None and asked is not None and asked != value:
            raise outside(field)
    return replace(
        where,
        kelurahan_code=principal.kelurahan,
        rw=where.rw if rw is None else rw,
        rt=where.rt if rt is None else rt,
    )


def check_address(principal: Principal, kelurahan_code: str, rw: int, rt: int) -> None:
    """A new household's address must be in the caller's area; the field that is not says so."""
    if principal.covers(kelurahan_code, rw, rt):
        return
    if not principal.covers(kelurahan_code, principal.rw or rw, principal.rt or rt):
        raise outside("kelurahan_code")
    raise outside("rw" if principal.rw is not None and rw != principal.rw else "rt")


async def check_household(engine: AsyncEngine, principal: Principal, household_id: UUID) -> None:
    """404 unless the household exists and is in the caller's area."""
    if principal.city_wide:
        return
    address = await household_address(engine, household_id)
    if address is None or not principal.covers(*address):
        raise problem(404, NOT_FOUND)


def in_area(engine: AsyncEngine) -> Any:
    """A route dependency: the path's household is in the caller's area (404 otherwise)."""

    async def check(household_id: UUID, principal: Caller) -> None:
        await check_household(engine, principal, household_id)

    return Depends(check)


HEALTH_ROLES = frozenset({Role.KADER, Role.KELURAHAN, Role.SYSTEM})


def sees_health(principal: Principal) -> bool:
    """Health details (stunted children, pregnancy, disability) go to cadres and the
    household's kelurahan (and other services); an RT, a kecamatan and coordinators work
    without them (UU PDP: health data is specific personal data)."""
    return principal.role in HEALTH_ROLES


def withheld(view: HouseholdViewT, principal: Principal) -> HouseholdViewT:
    """`view` as the caller may read it."""
    if sees_health(principal):
        return view
    changes: dict[str, Any] = {"stunted_children": None}
    members = getattr(view, "members", None)
    if members is not None:
        changes["members"] = [
            m.model_copy(update={"disability": None, "pregnant": None}) for m in members
        ]
    return view.model_copy(update=changes)


def check_health_filter(principal: Principal, stunting: bool | None) -> None:
    if stunting is not None and not sees_health(principal):
        raise problem(
            403,
            "stunting: saring menurut stunting hanya untuk kader dan kelurahan "
            "(stunting: filtering by stunting is for cadres and the kelurahan only)",
        )


def candidates_narrowed(where: CandidateFilter, principal: Principal) -> CandidateFilter:
    """A duplicate queue limited to candidates with a side in the caller's area."""
    if principal.city_wide:
        return where
    if where.kelurahan_code and not principal.covers_kelurahan(where.kelurahan_code):
        raise outside("kelurahan_code")
    if principal.role is Role.KECAMATAN:
        return replace(where, kecamatan_code=principal.kecamatan)
    return replace(where, kelurahan_code=principal.kelurahan)


def candidate_seen(principal: Principal, candidate: Any) -> Any:
    """The candidate, if one of its two people lives in the caller's area (404 otherwise)."""
    sides = (candidate.left_kelurahan_code, candidate.right_kelurahan_code)
    if not any(principal.covers_kelurahan(code) for code in sides):
        raise problem(404, "Calon duplikat tidak ditemukan (duplicate candidate not found)")
    return candidate


def check_scan(principal: Principal, kelurahan_code: str | None) -> None:
    """A kelurahan rescans its own people; only the city rescans everyone."""
    if kelurahan_code is None and not principal.city_wide:
        raise outside("kelurahan_code")
    if kelurahan_code is not None and not principal.covers_kelurahan(kelurahan_code):
        raise outside("kelurahan_code")


def import_area(principal: Principal | None) -> Callable[[HouseholdData], Problem | None] | None:
    """For an upload: the problem of a row whose household is outside the caller's area (an
    RT imports its own RT's rows; the others are rejected in the row report, not written)."""
    if principal is None or principal.city_wide:
        return None

    def check(household: HouseholdData) -> Problem | None:
        if principal.covers(household.kelurahan_code, household.rw, household.rt):
            return None
        if not principal.covers(household.kelurahan_code, principal.rw or 0, principal.rt or 0):
            column = "kelurahan"
        elif principal.rw is not None and household.rw != principal.rw:
            column = "rw"
        else:
            column = "rt"
        return Problem(
            column,
            "outside_area",
            f"{column}: di luar wilayah Anda",
            f"{column}: outside your area",
        )

    return check
