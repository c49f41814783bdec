"""Request and response bodies of the registry's HTTP API (with Indonesian examples)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.registry import areas
from services.registry.domain import (
    Household,
    KkReason,
    Member,
    Relation,
    Sex,
    Verification,
)
from services.registry.growth import GrowthAssessment, Position


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RegisterHousehold(Command):
    """Pendaftaran rumah tangga oleh Ketua RT (a household registered by the head of the RT)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "no_kk": "6474010101200001",
                    "kelurahan_code": "64.74.01.1003",
                    "rw": 3,
                    "rt": 12,
                    "address": "Jl. Pupuk Raya Gg. Mawar No. 7",
                    "head_name": "Siti Aminah",
                }
            ]
        }
    )

    no_kk: Annotated[str, Field(pattern=r"^\d{16}$", description="Nomor Kartu Keluarga, 16 digit")]
    kelurahan_code: Annotated[str, Field(description="Kode Kemendagri, mis. 64.74.01.1003")]
    rw: Annotated[int, Field(ge=1, le=99)]
    rt: Annotated[int, Field(ge=1, le=99)]
    address: Annotated[str, Field(min_length=3, max_length=500)]
    head_name: Annotated[str, Field(min_length=2, max_length=200)]

    @field_validator("kelurahan_code")
    @classmethod
    def _known_kelurahan(cls, code: str) -> str:
        if areas.kelurahan(code) is None:
            raise ValueError(
                f"kelurahan {code!r} tidak ada di Kota Bontang (not a kelurahan of Kota Bontang)"
            )
        return code


class AddMember(Command):
    """Anggota rumah tangga (a household member)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "nik": "6474014505900001",
                    "name": "Siti Aminah",
                    "sex": "P",
                    "birth_date": "1990-05-05",
                    "relation": "kepala",
                    "occupation": "pedagang",
                    "working": True,
                }
            ]
        }
    )

    nik: Annotated[str | None, Field(description="NIK 16 digit; kosongkan bila belum ada")] = None
    name: Annotated[str, Field(min_length=2, max_length=200)]
    sex: Sex
    birth_date: date
    relation: Relation
    occupation: Annotated[str | None, Field(max_length=100)] = None
    working: bool = False
    disability: bool = False
    pregnant: bool = False
    insist: bool = Field(
        default=False,
        description="RT menegaskan data ini walau NIK tidak cocok jenis kelamin/tanggal lahir",
    )


class ChangeKk(Command):
    """Nomor KK baru (pindah, pisah KK, kepala keluarga meninggal, atau koreksi)."""

    no_kk: Annotated[str, Field(pattern=r"^\d{16}$", description="Nomor KK baru, 16 digit")]
    reason: KkReason


class ReturnToRt(Command):
    note: Annotated[str, Field(min_length=3, max_length=2000, description="Catatan untuk RT")]


class ResolveConflict(Command):
    remove_member: UUID = Field(description="Anggota yang dihapus (yang bukan tempatnya)")
    note: Annotated[str, Field(min_length=3, max_length=2000)]


class RecordVisit(Command):
    """Kunjungan "Tengok Tetangga"."""

    visited_on: date
    visitor: Annotated[str, Field(min_length=2, max_length=200)]
    note: Annotated[str, Field(min_length=3, max_length=2000)]
    observations: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list)


def mask(value: str | None) -> str | None:
    """NIK and No. KK show only their last four digits (UU PDP: minimisation)."""
    return None if value is None else "*" * (len(value) - 4) + value[-4:]


class MemberView(BaseModel):
    id: UUID
    nik_masked: str | None
    name: str
    sex: Sex
    birth_date: date
    relation: str
    occupation: str | None
    working: bool
    disability: bool
    pregnant: bool
    nik_warnings: list[str]

    @classmethod
    def of(cls, member: Member) -> MemberView:
        return cls(
            id=member.id,
            nik_masked=mask(member.nik),
            name=member.name,
            sex=member.sex,
            birth_date=member.birth_date,
            relation=member.relation,
            occupation=member.occupation,
            working=member.working,
            disability=member.disability,
            pregnant=member.pregnant,
            nik_warnings=list(member.nik_warnings),
        )


class HouseholdView(BaseModel):
    id: UUID
    kelurahan_code: str
    kelurahan_name: str
    rw: int
    rt: int
    address: str
    head_name: str
    no_kk_masked: str = Field(description="No. KK, hanya 4 digit terakhir (last four digits)")
    verification: Verification
    verification_note: str | None
    poverty_status: str | None
    poverty_ruleset: str | None
    stunted_children: int
    registered_at: datetime
    version: int

    @classmethod
    def of(cls, household: Household) -> HouseholdView:
        area = areas.kelurahan(household.kelurahan_code)
        return cls(
            id=household.id,
            kelurahan_code=household.kelurahan_code,
            kelurahan_name=area.name if area else household.kelurahan_code,
            rw=household.rw,
            rt=household.rt,
            address=household.address,
            head_name=household.head_name,
            no_kk_masked=mask(household.no_kk) or "",
            verification=household.verification,
            verification_note=household.verification_note,
            poverty_status=household.poverty_status,
            poverty_ruleset=household.poverty_ruleset,
            stunted_children=household.stunted_children,
            registered_at=household.registered_at,
            version=household.version,
        )


class HouseholdDetailView(HouseholdView):
    members: list[MemberView]
    open_conflicts: list[dict[str, Any]]
    latest_assessment: dict[str, Any] | None
    stunting_risks: list[str] = Field(
        description="Keluarga berisiko stunting (BKKBN): air, jamban, 4 terlalu"
    )


class HouseholdPage(BaseModel):
    items: list[HouseholdView]
    next_after: str | None = Field(description="Kirim sebagai `after` untuk halaman berikutnya")


class RecordMeasurement(Command):
    """Pengukuran anak oleh kader Posyandu (a child measured by a Posyandu cadre)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "measured_on": "2026-11-20",
                    "length_height_cm": 82.5,
                    "position": "standing",
                    "weight_kg": 10.4,
                }
            ]
        }
    )

    measured_on: date
    length_height_cm: Annotated[float, Field(gt=0, le=250, description="Panjang/tinggi badan, cm")]
    position: Annotated[
        Position, Field(description="lying = berbaring (panjang), standing = berdiri (tinggi)")
    ]
    weight_kg: Annotated[float | None, Field(gt=0, le=300, description="Berat badan, kg")] = None


class MeasurementView(BaseModel):
    """The z-scores and categories, shown to the cadre right away."""

    id: UUID
    age_days: int
    age_months: float
    length_height_cm: float = Field(description="Setelah koreksi 0,7 cm bila perlu")
    corrected: bool
    hfa_z: float | None = Field(description="Z-skor panjang/tinggi menurut umur (WHO 2006)")
    hfa_category: str | None = Field(description="Permenkes 2/2020: sangat_pendek, pendek, …")
    wfa_z: float | None
    wfa_category: str | None
    wfh_z: float | None
    stunted: bool
    outside_standard: bool
    note: str | None

    @classmethod
    def of(cls, measurement_id: UUID, result: GrowthAssessment) -> MeasurementView:
        return cls(
            id=measurement_id,
            age_days=result.age_days,
            age_months=result.age_months,
            length_height_cm=result.length_height_cm,
            corrected=result.corrected,
            hfa_z=result.hfa_z,
            hfa_category=result.hfa_category,
            wfa_z=result.wfa_z,
            wfa_category=result.wfa_category,
            wfh_z=result.wfh_z,
            stunted=result.stunted,
            outside_standard=result.outside_standard,
            note=result.note,
        )


class Assess(Command):
    """Penilaian kemiskinan: jawaban RT atas aturan yang dipilih."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ruleset": "bontang-4-utama.v1",
                    "answers": {
                        "pangan_tidak_tercukupi": True,
                        "penghasilan_di_bawah_kebutuhan": True,
                        "rumah_tidak_layak_huni": True,
                        "tanpa_akses_layanan_dasar": False,
                    },
                    "dtsen_desil": 1,
                    "dtsen_source": "DTSEN Kemensos, Oktober 2026",
                }
            ]
        }
    )

    ruleset: str = Field(description="Kunci aturan, mis. kepmensos-262-2022.v1 (GET /rulesets)")
    answers: dict[str, bool] = Field(description="Jawaban ya/tidak untuk setiap pertanyaan")
    dtsen_desil: Annotated[int | None, Field(ge=1, le=10, description="Desil DTSEN")] = None
    dtsen_source: Annotated[str | None, Field(max_length=200)] = None


class AssessmentView(BaseModel):
    id: UUID
    ruleset: str
    criteria_met: list[str]
    screening: str | None
    status: str


class Rescore(Command):
    old: str = Field(description="Versi lama, mis. bontang-2024-13.v1")
    new: str = Field(description="Versi baru, mis. bontang-2024-13.v2")
