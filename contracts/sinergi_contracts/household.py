"""Events the registry publishes about households, their members, assessments and children."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from sinergi_contracts.events import Event, register

Sex = Literal["L", "P"]
PovertyStatus = Literal["miskin_ekstrem", "miskin", "rentan", "tidak_miskin"]
HeightCategory = Literal["sangat_pendek", "pendek", "normal", "tinggi"]


class RegistryEvent(Event):
    service: ClassVar[str] = "registry"

    recorded_by: str | None = Field(
        default=None,
        description="Who recorded it: the verified caller, <role>:<subject> (rt:ketua-rt-3-12)",
    )


@register
class HouseholdRegistered(RegistryEvent):
    """A Ketua RT registered a household of the RT (rumah tangga didaftarkan)."""

    name: ClassVar[str] = "household_registered"

    kelurahan_code: str = Field(description="Kemendagri code of the kelurahan, e.g. 64.74.01.1001")
    rw: int = Field(ge=1)
    rt: int = Field(ge=1)
    address: str
    head_name: str = Field(description="Name of the head of household (kepala keluarga)")
    registered_at: datetime


@register
class MemberAdded(RegistryEvent):
    """A member was added to a household (anggota rumah tangga ditambahkan).

    The NIK itself stays in the registry; events carry only whether it is known.
    """

    name: ClassVar[str] = "member_added"
    health_fields: ClassVar[tuple[str, ...]] = ("disability", "pregnant")

    member_id: UUID
    sex: Sex
    birth_date: date
    relation: str = Field(description="Relation to the head: kepala, istri, suami, anak, …")
    working: bool = Field(description="Works (bekerja) for income")
    disability: bool
    pregnant: bool
    has_nik: bool
    nik_warnings: list[str] = Field(
        default_factory=list, description="NIK rules the RT insisted past (sex, birth_date)"
    )


@register
class HouseholdSubmitted(RegistryEvent):
    """The RT submitted the household's data to the kelurahan for verification."""

    name: ClassVar[str] = "household_submitted"


@register
class HouseholdVerified(RegistryEvent):
    """The kelurahan verified the household's data; from now on it counts in targets."""

    name: ClassVar[str] = "household_verified"


@register
class HouseholdReturned(RegistryEvent):
    """The kelurahan returned the household's data to the RT with a note."""

    name: ClassVar[str] = "household_returned"

    note: str


@register
class NikConflictDetected(RegistryEvent):
    """The same NIK is in two households; verification waits until an officer resolves it."""

    name: ClassVar[str] = "nik_conflict_detected"

    conflict_id: UUID
    member_id: UUID
    other_household_id: UUID
    nik_last4: str


@register
class NikConflictResolved(RegistryEvent):
    """A kelurahan officer resolved a NIK conflict."""

    name: ClassVar[str] = "nik_conflict_resolved"

    conflict_id: UUID
    member_id: UUID = Field(description="The member whose record was removed or corrected")
    decision: Literal["member_removed"]
    note: str


@register
class DuplicateSuspected(RegistryEvent):
    """Two member records are probably one person, at least one of them without a NIK.

    A kelurahan officer decides: merge, or not a duplicate. Each household involved gets the
    event, naming its own member first.
    """

    name: ClassVar[str] = "duplicate_suspected"

    candidate_id: UUID
    member_id: UUID = Field(description="The member of this household")
    other_member_id: UUID
    other_household_id: UUID
    score: float = Field(ge=0, le=1, description="Estimated probability that both are one person")
    reasons: list[str] = Field(description="Why, in Indonesian, as the officer reads it")


@register
class DuplicateDismissed(RegistryEvent):
    """A kelurahan officer decided the two records are different people (bukan duplikat)."""

    name: ClassVar[str] = "duplicate_dismissed"

    candidate_id: UUID
    member_id: UUID = Field(description="The member of this household")
    other_member_id: UUID
    other_household_id: UUID
    note: str


@register
class MembersMerged(RegistryEvent):
    """A kelurahan officer merged two records of one person into the kept one.

    The removed record is gone from the registry; its measurements now belong to the kept
    member. A service holding anything about `removed_member_id` should move it to
    `kept_member_id`. Each household involved gets the event.
    """

    name: ClassVar[str] = "members_merged"

    candidate_id: UUID
    kept_member_id: UUID
    kept_household_id: UUID
    removed_member_id: UUID
    removed_household_id: UUID
    note: str


@register
class HouseholdAssessed(RegistryEvent):
    """An assessment against a poverty ruleset (penilaian kemiskinan)."""

    name: ClassVar[str] = "household_assessed"

    assessment_id: UUID
    ruleset: str = Field(description="Ruleset id and version, e.g. kepmensos-262-2022.v1")
    criteria_met: list[str]
    screening: str | None
    status: PovertyStatus
    dtsen_desil: int | None = Field(default=None, ge=1, le=10)
    dtsen_source: str | None = None


@register
class PovertyStatusChanged(RegistryEvent):
    """The household's poverty status changed (by an assessment or a ruleset change)."""

    name: ClassVar[str] = "poverty_status_changed"

    previous_status: PovertyStatus | None
    status: PovertyStatus
    ruleset: str
    reason: Literal["assessment", "ruleset_changed"]


@register
class ChildMeasured(RegistryEvent):
    """A cadre measured a child (WHO 2006 z-scores, Permenkes 2/2020 categories)."""

    name: ClassVar[str] = "child_measured"
    health_fields: ClassVar[tuple[str, ...]] = (
        "age_days", "length_height_cm", "weight_kg", "hfa_z", "hfa_category", "wfa_z",
        "wfa_category", "outside_standard",
    )  # fmt: skip

    member_id: UUID
    measurement_id: UUID
    measured_on: date
    age_days: int
    length_height_cm: float
    weight_kg: float | None
    hfa_z: float | None
    hfa_category: HeightCategory | None
    wfa_z: float | None
    wfa_category: str | None
    outside_standard: bool


@register
class ChildStuntingDetected(RegistryEvent):
    """A child newly measured as stunted (pendek or sangat pendek): the Puskesmas should act."""

    name: ClassVar[str] = "child_stunting_detected"
    health_fields: ClassVar[tuple[str, ...]] = ("hfa_z", "hfa_category")

    member_id: UUID
    measurement_id: UUID
    measured_on: date
    hfa_z: float
    hfa_category: Literal["sangat_pendek", "pendek"]
    kelurahan_code: str


@register
class HouseholdVisited(RegistryEvent):
    """A "Tengok Tetangga" home visit by the RT or a neighbour volunteer."""

    name: ClassVar[str] = "household_visited"

    visit_id: UUID
    visited_on: date
    visitor: str
    note: str
    observations: list[str]


@register
class KkChanged(RegistryEvent):
    """The household's family card number changed (move, split, death of the head)."""

    name: ClassVar[str] = "kk_changed"

    reason: Literal["pindah", "pisah_kk", "kepala_meninggal", "koreksi"]
    previous_no_kk_last4: str
    no_kk_last4: str
