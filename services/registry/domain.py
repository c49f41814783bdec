"""Households as the registry knows them. No I/O here: functions return state and events."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Final, Literal
from uuid import UUID, uuid4

from sinergi_contracts import (
    HouseholdRegistered,
    HouseholdReturned,
    HouseholdSubmitted,
    HouseholdVerified,
    KkChanged,
    MemberAdded,
)

from services.registry import nik as nik_rules
from sinergi import errors

Verification = Literal["draft", "submitted", "verified", "returned"]
Sex = Literal["L", "P"]
KkReason = Literal["pindah", "pisah_kk", "kepala_meninggal", "koreksi"]
Relation = Literal["kepala", "istri", "suami", "anak", "menantu", "cucu", "orang_tua", "lainnya"]

# Which verification steps may follow which: the RT submits, the kelurahan verifies or returns.
NEXT_STEPS: Final[dict[Verification, tuple[Verification, ...]]] = {
    "draft": ("submitted",),
    "returned": ("submitted",),
    "submitted": ("verified", "returned"),
    "verified": (),
}
EDITABLE: Final[tuple[Verification, ...]] = ("draft", "returned")


# The shared error kinds (sinergi.errors turns them into HTTP answers); the registry's own
# messages are below.
RegistryError = errors.DomainError
NotFound = errors.NotFound
Conflict = errors.Conflict
FieldRejected = errors.FieldRejected


class DuplicateKK(Conflict):
    def __init__(self, no_kk: str):
        super().__init__(
            f"No. KK {no_kk[:4]}…{no_kk[-4:]} sudah terdaftar (family card already registered)"
        )


class InvalidStep(Conflict):
    def __init__(self, current: Verification, wanted: Verification):
        allowed = ", ".join(NEXT_STEPS[current]) or "-"
        super().__init__(
            f"status verifikasi {current} tidak bisa menjadi {wanted}; yang boleh: {allowed} "
            f"(verification state {current} cannot become {wanted}; allowed: {allowed})"
        )
        self.allowed = NEXT_STEPS[current]


class NotEditable(Conflict):
    def __init__(self, current: Verification):
        super().__init__(
            f"data berstatus {current} tidak bisa diubah; kelurahan harus mengembalikannya dulu "
            f"(data in state {current} cannot be changed until the kelurahan returns it)"
        )


class VerificationBlocked(Conflict):
    def __init__(self, open_conflicts: int):
        super().__init__(
            f"ada {open_conflicts} konflik NIK yang belum diselesaikan "
            f"({open_conflicts} NIK conflicts must be resolved first)"
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
    verification: Verification = "draft"
    verification_note: str | None = None
    poverty_status: str | None = None
    poverty_ruleset: str | None = None
    stunted_children: int = 0
    version: int = 1


@dataclass(frozen=True)
class Member:
    id: UUID
    household_id: UUID
    nik: str | None
    name: str
    sex: Sex
    birth_date: date
    relation: Relation
    occupation: str | None
    working: bool
    disability: bool
    pregnant: bool
    nik_warnings: tuple[str, ...]
    added_at: datetime


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


def checked_nik(
    value: str, *, sex: Sex, birth_date: date, insist: bool, today: date
) -> tuple[str, tuple[str, ...]]:
    """The NIK and the warnings recorded when the RT insists past a mismatch."""
    try:
        parsed = nik_rules.parse_nik(value, today=today)
    except nik_rules.NikError as error:
        raise FieldRejected(
            field="nik", rule=f"nik_{error.rule}", pesan=error.pesan, message=error.message
        ) from None
    mismatches = nik_rules.compare_with_member(parsed, sex=sex, birth_date=birth_date)
    if mismatches and not insist:
        first = mismatches[0]
        raise FieldRejected(
            field="nik",
            rule=f"nik_{first.rule}",
            pesan=f"{first.pesan}; kirim insist=true bila KTP memang begitu",
            message=f"{first.message}; send insist=true if the KTP says so",
        )
    return parsed.value, tuple(m.rule for m in mismatches)


def add_member(
    household: Household,
    *,
    nik: str | None,
    name: str,
    sex: Sex,
    birth_date: date,
    relation: Relation,
    occupation: str | None,
    working: bool,
    disability: bool,
    pregnant: bool,
    insist: bool,
    now: datetime,
) -> tuple[Household, Member, MemberAdded]:
    if household.verification not in EDITABLE:
        raise NotEditable(household.verification)
    if birth_date > now.date():
        raise FieldRejected(
            field="birth_date",
            rule="future_date",
            pesan="tanggal lahir tidak boleh di masa depan",
            message="birth date cannot be in the future",
        )
    if pregnant and sex == "L":
        raise FieldRejected(
            field="pregnant",
            rule="sex_mismatch",
            pesan="anggota laki-laki tidak bisa hamil",
            message="a male member cannot be pregnant",
        )
    warnings: tuple[str, ...] = ()
    if nik is not None:
        nik, warnings = checked_nik(
            nik, sex=sex, birth_date=birth_date, insist=insist, today=now.date()
        )
    member = Member(
        id=uuid4(),
        household_id=household.id,
        nik=nik,
        name=name.strip(),
        sex=sex,
        birth_date=birth_date,
        relation=relation,
        occupation=occupation,
        working=working,
        disability=disability,
        pregnant=pregnant,
        nik_warnings=warnings,
        added_at=now,
    )
    event = MemberAdded(
        household_id=household.id,
        member_id=member.id,
        sex=sex,
        birth_date=birth_date,
        relation=relation,
        working=working,
        disability=disability,
        pregnant=pregnant,
        has_nik=nik is not None,
        nik_warnings=list(warnings),
    )
    return replace(household, version=household.version + 1), member, event


def _step(household: Household, wanted: Verification) -> Household:
    if wanted not in NEXT_STEPS[household.verification]:
        raise InvalidStep(household.verification, wanted)
    return replace(household, verification=wanted, version=household.version + 1)


def submit(household: Household) -> tuple[Household, HouseholdSubmitted]:
    return _step(household, "submitted"), HouseholdSubmitted(household_id=household.id)


def verify(household: Household, *, open_conflicts: int) -> tuple[Household, HouseholdVerified]:
    if open_conflicts:
        raise VerificationBlocked(open_conflicts)
    changed = replace(_step(household, "verified"), verification_note=None)
    return changed, HouseholdVerified(household_id=household.id)


def return_to_rt(household: Household, *, note: str) -> tuple[Household, HouseholdReturned]:
    changed = replace(_step(household, "returned"), verification_note=note)
    return changed, HouseholdReturned(household_id=household.id, note=note)


def change_kk(household: Household, *, no_kk: str, reason: KkReason) -> tuple[Household, KkChanged]:
    """A new family card; the household keeps its id, the old number goes to its history."""
    if household.verification not in EDITABLE:
        raise NotEditable(household.verification)
    if no_kk == household.no_kk:
        raise FieldRejected(
            field="no_kk",
            rule="unchanged",
            pesan="No. KK sama dengan yang sekarang",
            message="the family card number is the current one",
        )
    event = KkChanged(
        household_id=household.id,
        reason=reason,
        previous_no_kk_last4=household.no_kk[-4:],
        no_kk_last4=no_kk[-4:],
    )
    return replace(household, no_kk=no_kk, version=household.version + 1), event
