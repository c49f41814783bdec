"""Households as the registry knows them. No I/O here: functions return state and events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from sinergi_contracts import HouseholdRegistered


class HouseholdError(Exception):
    """A rule of the registry was broken; the message is Indonesian (English)."""


class DuplicateKK(HouseholdError):
    def __init__(self, no_kk: str):
        super().__init__(
            f"No. KK {no_kk[:4]}…{no_kk[-4:]} sudah terdaftar (family card already registered)"
        )


@dataclass(frozen=True)
class Household:
    id: UUID
    no_kk: str
    kelurahan_code: str
    rw: int
    rt: int
    address: str
    head_name: str
    registered_at: datetime
    version: int = 1


def register_household(
    *,
    no_kk: str,
    kelurahan_code: str,
    rw: int,
    rt: int,
    address: str,
    head_name: str,
    now: datetime,
) -> tuple[Household, HouseholdRegistered]:
    household = Household(
        id=uuid4(),
        no_kk=no_kk,
        kelurahan_code=kelurahan_code,
        rw=rw,
        rt=rt,
        address=address.strip(),
        head_name=head_name.strip(),
        registered_at=now,
    )
    event = HouseholdRegistered(
        household_id=household.id,
        kelurahan_code=household.kelurahan_code,
        rw=household.rw,
        rt=household.rt,
        address=household.address,
        head_name=household.head_name,
        registered_at=now,
    )
    return household, event
