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

# --- OpenAPI examples ----------------------------------------------------------------------------
# One story told across the examples: Ibu Siti Aminah's household in RT 12 / RW 3, Lok Tuan (a
# priority kelurahan), with her son Muhammad Rizky Saputra. NIKs, codes, rulesets and z-scores
# are real ones, checked by tests/unit/test_openapi_examples.py. FastAPI leaves null values out
# of the published document, so the examples use a real value wherever one is as likely.
_HOUSEHOLD_ID = "3f6c2a9e-8b1d-4c57-9e2a-6d41b7f0c815"
_SITI_ID = "a1d4e7c2-5b93-4f08-8c6e-2f7b19d0e341"
_RIZKY_ID = "c7e29b51-0d3a-4a6f-b8e4-91f25c3d7a06"
_REGISTERED_AT = "2026-11-16T01:12:45Z"

_SITI: dict[str, Any] = {
    "id": _SITI_ID,
    "nik_masked": "************0001",
    "name": "Siti Aminah",
    "sex": "P",
    "birth_date": "1990-05-05",
    "relation": "kepala",
    "occupation": "pedagang kue keliling",
    "working": True,
    "disability": False,
    "pregnant": False,
    "nik_warnings": [],
}
_RIZKY: dict[str, Any] = {
    "id": _RIZKY_ID,
    "nik_masked": "************0002",
    "name": "Muhammad Rizky Saputra",
    "sex": "L",
    "birth_date": "2024-08-14",
    "relation": "anak",
    "occupation": "belum/tidak bekerja",
    "working": False,
    "disability": False,
    "pregnant": False,
    "nik_warnings": [],
}
_LOK_TUAN_HOUSEHOLD: dict[str, Any] = {
    "id": _HOUSEHOLD_ID,
    "kelurahan_code": "64.74.01.1003",
    "kelurahan_name": "Lok Tuan",
    "rw": 3,
    "rt": 12,
    "address": "Jl. Pupuk Raya Gg. Mawar No. 7",
    "head_name": "Siti Aminah",
    "no_kk_masked": "************0001",
    "verification": "returned",
    "verification_note": "Anggota keluarga belum lengkap, mohon dilengkapi",
    "poverty_status": "miskin",
    "poverty_ruleset": "kepmensos-262-2022.v1",
    "stunted_children": 1,
    "registered_at": _REGISTERED_AT,
    "version": 8,
}
_TANJUNG_LAUT_INDAH_HOUSEHOLD: dict[str, Any] = {
    "id": "5b8e0f47-2c19-4d6a-a3f1-7e94c0b2d658",
    "kelurahan_code": "64.74.02.1006",
    "kelurahan_name": "Tanjung Laut Indah",
    "rw": 5,
    "rt": 21,
    "address": "Jl. Selat Makassar Gg. Nelayan No. 14",
    "head_name": "Rahmat Hidayat",
    "no_kk_masked": "************0007",
    "verification": "verified",
    "verification_note": None,
    "poverty_status": "miskin_ekstrem",
    "poverty_ruleset": "kepmensos-262-2022.v1",
    "stunted_children": 0,
    "registered_at": "2026-10-02T03:05:10Z",
    "version": 9,
}
_KEPMENSOS_ANSWERS: dict[str, bool] = {
    "tidak_mempunyai_tempat_tinggal": False,
    "kepala_rumah_tangga_tidak_bekerja": False,
    "kekurangan_atau_khawatir_makan": True,
    "pengeluaran_pangan_lebih_dari_separuh": True,
    "tidak_ada_pengeluaran_pakaian": True,
    "lantai_tanah_atau_plesteran": False,
    "dinding_bambu_papan_terpal": True,
    "tidak_ada_jamban_sendiri": True,
    "listrik_450va_atau_tidak_ada": False,
}


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
                },
                {
                    "no_kk": "6474021203150007",
                    "kelurahan_code": "64.74.02.1006",
                    "rw": 5,
                    "rt": 21,
                    "address": "Jl. Selat Makassar Gg. Nelayan No. 14",
                    "head_name": "Rahmat Hidayat",
                },
            ]
        }
    )

    no_kk: Annotated[str, Field(pattern=r"^\d{16}$", description="Nomor Kartu Keluarga, 16 digit")]
    kelurahan_code: Annotated[str, Field(description="Kode Kemendagri, mis. 64.74.01.1003")]
    rw: Annotated[
        int, Field(ge=1, le=99, description="Nomor RW di kelurahan itu (rukun warga number)")
    ]
    rt: Annotated[
        int, Field(ge=1, le=99, description="Nomor RT di kelurahan itu (rukun tetangga number)")
    ]
    address: Annotated[
        str, Field(min_length=3, max_length=500, description="Alamat rumah (street address)")
    ]
    head_name: Annotated[
        str,
        Field(
            min_length=2,
            max_length=200,
            description="Nama kepala keluarga sesuai KK (head of the family, as on the card)",
        ),
    ]

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
                },
                {
                    "nik": "6474011408240002",
                    "name": "Muhammad Rizky Saputra",
                    "sex": "L",
                    "birth_date": "2024-08-14",
                    "relation": "anak",
                    "occupation": "belum/tidak bekerja",
                },
                {
                    "name": "Nur Aisyah",
                    "sex": "P",
                    "birth_date": "2026-09-30",
                    "relation": "anak",
                },
            ]
        }
    )

    nik: Annotated[str | None, Field(description="NIK 16 digit; kosongkan bila belum ada")] = None
    name: Annotated[
        str, Field(min_length=2, max_length=200, description="Nama lengkap sesuai KK (full name)")
    ]
    sex: Annotated[Sex, Field(description="L = laki-laki, P = perempuan (male, female)")]
    birth_date: Annotated[date, Field(description="Tanggal lahir, YYYY-MM-DD (date of birth)")]
    relation: Annotated[
        Relation, Field(description="Hubungan dengan kepala keluarga (relation to the head)")
    ]
    occupation: Annotated[
        str | None, Field(max_length=100, description="Pekerjaan utama (main occupation)")
    ] = None
    working: Annotated[bool, Field(description="Sedang bekerja (currently working)")] = False
    disability: Annotated[bool, Field(description="Penyandang disabilitas (has a disability)")] = (
        False
    )
    pregnant: Annotated[
        bool, Field(description="Sedang hamil; hanya untuk P (pregnant; women only)")
    ] = False
    insist: bool = Field(
        default=False,
        description="RT menegaskan data ini walau NIK tidak cocok jenis kelamin/tanggal lahir",
    )


class ChangeKk(Command):
    """Nomor KK baru (pindah, pisah KK, kepala keluarga meninggal, atau koreksi)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"no_kk": "6474011511260003", "reason": "pisah_kk"}]}
    )

    no_kk: Annotated[str, Field(pattern=r"^\d{16}$", description="Nomor KK baru, 16 digit")]
    reason: Annotated[
        KkReason,
        Field(
            description=(
                "Alasan: pindah (moved), pisah_kk (family card split), kepala_meninggal "
                "(head of the family died), koreksi (correction)"
            )
        ),
    ]


class ReturnToRt(Command):
    """Kelurahan mengembalikan data ke RT untuk diperbaiki (returned to the RT for fixing)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"note": "Anggota keluarga belum lengkap, mohon dilengkapi"}]
        }
    )

    note: Annotated[str, Field(min_length=3, max_length=2000, description="Catatan untuk RT")]


class ResolveConflict(Command):
    """Satu NIK tercatat di dua rumah tangga: hapus anggota yang bukan tempatnya."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "remove_member": "d5f08a2b-3c61-4e97-b1d4-7a9c2e0f6b38",
                    "note": (
                        "Rizky tinggal bersama ibunya di RT 12 Lok Tuan; data ganda di rumah "
                        "neneknya di Api-Api dihapus."
                    ),
                }
            ]
        }
    )

    remove_member: UUID = Field(description="Anggota yang dihapus (yang bukan tempatnya)")
    note: Annotated[
        str,
        Field(
            min_length=3,
            max_length=2000,
            description="Alasan keputusan, disimpan untuk audit (why; kept for the audit trail)",
        ),
    ]


class RecordVisit(Command):
    """Kunjungan "Tengok Tetangga"."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "visited_on": "2026-11-22",
                    "visitor": "Nurhayati (kader Posyandu Melati, RT 12)",
                    "note": (
                        "Ibu Siti sedang sakit dan belum bisa berjualan. Rizky tampak kurus dan "
                        "bulan ini belum dibawa ke Posyandu."
                    ),
                    "observations": [
                        "atap dapur bocor",
                        "tidak ada jamban sendiri, memakai jamban tetangga",
                        "air minum dari sumur gali tidak terlindung",
                    ],
                }
            ]
        }
    )

    visited_on: Annotated[date, Field(description="Tanggal kunjungan (date of the visit)")]
    visitor: Annotated[
        str,
        Field(min_length=2, max_length=200, description="Siapa yang berkunjung (the visitor)"),
    ]
    note: Annotated[
        str, Field(min_length=3, max_length=2000, description="Catatan kunjungan (visit notes)")
    ]
    observations: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list,
        description="Temuan di rumah, satu per butir (what was seen, one item each)",
    )


def mask(value: str | None) -> str | None:
    """NIK and No. KK show only their last four digits (UU PDP: minimisation)."""
    return None if value is None else "*" * (len(value) - 4) + value[-4:]


class MemberView(BaseModel):
    """Anggota rumah tangga; NIK disamarkan (a member, NIK masked)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_SITI]})

    id: UUID = Field(description="ID anggota (member id)")
    nik_masked: str | None = Field(
        description="NIK, hanya 4 digit terakhir; null bila belum ada (last four digits only)"
    )
    name: str = Field(description="Nama lengkap (full name)")
    sex: Sex = Field(description="L = laki-laki, P = perempuan (male, female)")
    birth_date: date = Field(description="Tanggal lahir (date of birth)")
    relation: str = Field(description="Hubungan dengan kepala keluarga (relation to the head)")
    occupation: str | None = Field(description="Pekerjaan utama (main occupation)")
    working: bool = Field(description="Sedang bekerja (currently working)")
    disability: bool | None = Field(
        description="Penyandang disabilitas; null bila ditahan untuk peran Anda "
        "(has a disability; null when withheld from your role)"
    )
    pregnant: bool | None = Field(
        description="Sedang hamil; null bila ditahan (pregnant; null when withheld)"
    )
    nik_warnings: list[str] = Field(
        description=(
            "Ketidakcocokan NIK yang ditegaskan RT (insist): sex dan/atau birth_date "
            "(NIK mismatches the RT confirmed)"
        )
    )

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
    """Rumah tangga; No. KK disamarkan (a household, family card number masked)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_LOK_TUAN_HOUSEHOLD]})

    id: UUID = Field(description="ID rumah tangga; tetap walau No. KK berganti (stable id)")
    kelurahan_code: str = Field(description="Kode kelurahan Kemendagri (area code)")
    kelurahan_name: str = Field(description="Nama kelurahan (kelurahan name)")
    rw: int = Field(description="Nomor RW (rukun warga)")
    rt: int = Field(description="Nomor RT (rukun tetangga)")
    address: str = Field(description="Alamat rumah (street address)")
    head_name: str = Field(description="Nama kepala keluarga (head of the family)")
    no_kk_masked: str = Field(description="No. KK, hanya 4 digit terakhir (last four digits)")
    verification: Verification = Field(
        description="draft → submitted (RT mengirim) → verified | returned (kelurahan)"
    )
    verification_note: str | None = Field(
        description="Catatan kelurahan saat mengembalikan ke RT (note when returned)"
    )
    poverty_status: str | None = Field(
        description=(
            "Status dari penilaian terakhir: miskin_ekstrem, miskin, rentan, tidak_miskin; "
            "null bila belum dinilai (latest assessment's status)"
        )
    )
    poverty_ruleset: str | None = Field(
        description="Aturan (id.vN) yang menghasilkan status itu (ruleset behind the status)"
    )
    stunted_children: int | None = Field(
        description=(
            "Anak yang pendek/sangat pendek pada pengukuran terakhirnya; null bila ditahan "
            "untuk peran Anda (children stunted at their latest measurement; null when "
            "withheld from your role)"
        )
    )
    registered_at: datetime = Field(description="Waktu pendaftaran, UTC (registered at)")
    version: int = Field(description="Versi data, naik setiap perubahan (revision number)")

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
    """Rincian rumah tangga: anggota, konflik NIK, penilaian terakhir, risiko stunting."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                _LOK_TUAN_HOUSEHOLD
                | {
                    "members": [_SITI, _RIZKY],
                    "open_conflicts": [
                        {
                            "id": "e4a91c36-7f2b-4e05-9d8c-0b63f5a1c2d9",
                            "member_id": _RIZKY_ID,
                            "household_id": _HOUSEHOLD_ID,
                            "other_household_id": "71c3d5e8-9a26-4b0f-8d47-e2f6a1b9c530",
                            "detected_at": "2026-11-16T01:20:03Z",
                        }
                    ],
                    "latest_assessment": {
                        "id": "2c7a9e15-6b3f-4d80-9a1c-58e0d4b7f263",
                        "ruleset": "kepmensos-262-2022.v1",
                        "status": "miskin",
                        "criteria_met": [
                            "kekurangan_atau_khawatir_makan",
                            "pengeluaran_pangan_lebih_dari_separuh",
                            "tidak_ada_pengeluaran_pakaian",
                            "dinding_bambu_papan_terpal",
                            "tidak_ada_jamban_sendiri",
                        ],
                        "screening": None,
                        "answers": _KEPMENSOS_ANSWERS,
                        "dtsen_desil": 2,
                        "dtsen_source": "DTSEN Kemensos, Oktober 2026",
                        "assessed_at": "2026-11-18T02:30:00Z",
                    },
                    "stunting_risks": ["tidak_ada_jamban_layak"],
                }
            ]
        }
    )

    members: list[MemberView] = Field(description="Anggota rumah tangga (members)")
    open_conflicts: list[dict[str, Any]] = Field(
        description=(
            "Konflik NIK yang belum diselesaikan: NIK yang sama di rumah tangga lain "
            "(open NIK conflicts); menahan verifikasi"
        )
    )
    latest_assessment: dict[str, Any] | None = Field(
        description="Penilaian kemiskinan terakhir dengan jawabannya (latest assessment)"
    )
    stunting_risks: list[str] = Field(
        description="Keluarga berisiko stunting (BKKBN): air, jamban, 4 terlalu"
    )


class HouseholdPage(BaseModel):
    """Satu halaman daftar rumah tangga, urut ID (one page, ordered by id)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [_LOK_TUAN_HOUSEHOLD, _TANJUNG_LAUT_INDAH_HOUSEHOLD],
                    "next_after": _TANJUNG_LAUT_INDAH_HOUSEHOLD["id"],
                }
            ]
        }
    )

    items: list[HouseholdView] = Field(description="Rumah tangga di halaman ini (households)")
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

    measured_on: Annotated[date, Field(description="Tanggal pengukuran (date measured)")]
    length_height_cm: Annotated[float, Field(gt=0, le=250, description="Panjang/tinggi badan, cm")]
    position: Annotated[
        Position, Field(description="lying = berbaring (panjang), standing = berdiri (tinggi)")
    ]
    weight_kg: Annotated[float | None, Field(gt=0, le=300, description="Berat badan, kg")] = None


class MeasurementView(BaseModel):
    """The z-scores and categories, shown to the cadre right away."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "9d2f6b18-4e7a-4c31-a5b0-3c8e71f4d920",
                    "age_days": 828,
                    "age_months": 27.2,
                    "length_height_cm": 82.5,
                    "corrected": False,
                    "hfa_z": -2.24,
                    "hfa_category": "pendek",
                    "wfa_z": -1.78,
                    "wfa_category": "normal",
                    "wfh_z": -0.78,
                    "stunted": True,
                    "outside_standard": False,
                    "note": None,
                }
            ]
        }
    )

    id: UUID = Field(description="ID pengukuran (measurement id)")
    age_days: int = Field(description="Umur pada hari pengukuran, hari (age in days)")
    age_months: float = Field(description="Umur dalam bulan, hari / 30,4375 (age in months)")
    length_height_cm: float = Field(description="Setelah koreksi 0,7 cm bila perlu")
    corrected: bool = Field(
        description="Dikoreksi 0,7 cm karena posisi tidak sesuai umur (position corrected)"
    )
    hfa_z: float | None = Field(description="Z-skor panjang/tinggi menurut umur (WHO 2006)")
    hfa_category: str | None = Field(description="Permenkes 2/2020: sangat_pendek, pendek, …")
    wfa_z: float | None = Field(description="Z-skor berat badan menurut umur (weight-for-age)")
    wfa_category: str | None = Field(
        description=(
            "Permenkes 2/2020: berat_badan_sangat_kurang, berat_badan_kurang, normal, "
            "risiko_berat_badan_lebih"
        )
    )
    wfh_z: float | None = Field(
        description="Z-skor berat badan menurut panjang/tinggi (weight-for-length/height)"
    )
    stunted: bool = Field(description="Pendek atau sangat pendek (stunted: HFA z < -2)")
    outside_standard: bool = Field(
        description="Umur 60 bulan atau lebih: tidak dinilai (outside the 0-60 month standard)"
    )
    note: str | None = Field(description="Catatan untuk kader (notes for the cadre)")

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
    dtsen_source: Annotated[
        str | None, Field(max_length=200, description="Sumber desil DTSEN (source of the desil)")
    ] = None


class AssessmentView(BaseModel):
    """Hasil penilaian kemiskinan (the assessment's result)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0f8b3d62-a9c4-4e17-b2d5-6a1e94c7f083",
                    "ruleset": "bontang-4-utama.v1",
                    "criteria_met": [
                        "pangan_tidak_tercukupi",
                        "penghasilan_di_bawah_kebutuhan",
                        "rumah_tidak_layak_huni",
                    ],
                    "screening": None,
                    "status": "miskin_ekstrem",
                }
            ]
        }
    )

    id: UUID = Field(description="ID penilaian (assessment id)")
    ruleset: str = Field(description="Aturan yang dipakai, id.vN (ruleset key)")
    criteria_met: list[str] = Field(description="Kriteria yang terpenuhi (criteria met)")
    screening: str | None = Field(
        description="Pertanyaan saringan yang terpenuhi, mis. tidak_mempunyai_tempat_tinggal"
    )
    status: str = Field(description="miskin_ekstrem, miskin, rentan atau tidak_miskin")


class Rescore(Command):
    """Nilai ulang rumah tangga yang dinilai dengan versi lama (re-score after a new version)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"old": "bontang-2024-13.v1", "new": "bontang-2024-13.v2"}]}
    )

    old: str = Field(description="Versi lama, mis. bontang-2024-13.v1")
    new: str = Field(description="Versi baru, mis. bontang-2024-13.v2")
