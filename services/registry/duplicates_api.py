"""HTTP routes of the duplicate review queue: the kelurahan officer's list and decisions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.registry import areas, duplicates, scope
from services.registry.api import PROBLEMS
from services.registry.duplicates import CandidateFilter, Decision, State
from sinergi.audit import Purpose, record_reads
from sinergi.auth import Caller, Role, allow
from sinergi.errors import answers
from sinergi.service import Runtime

_LEFT = "6f1c7c1e-3f1a-4d0e-9a51-2b8d0f6a1c01"
_RIGHT = "b2a4e7d9-81c3-4f55-a0d2-7e9c4b1f3a02"
_SIDE_EXAMPLE: dict[str, Any] = {
    "member_id": _LEFT,
    "household_id": "0c9e5b7a-2d41-4e8f-b3a6-5f1d8c2e9b10",
    "name": "Muhammad Rizky Saputra",
    "sex": "L",
    "birth_date": "2022-03-14",
    "nik_last4": "0007",
    "kelurahan_code": "64.74.01.1006",
    "rw": 4,
    "rt": 17,
    "address": "Jl. Kapal Selam Gg. Teratai No. 5",
    "head_name": "Siti Aminah",
}


_DUPLICATE_EXAMPLE: dict[str, Any] = {
    "id": "5d7a9c31-6e2b-4f80-b1c4-9a3e2d7f6b21",
    "score": 0.97,
    "reasons": [
        "nama sama setelah gelar dan ejaan diseragamkan",
        "tanggal lahir sama",
        "RT sama",
    ],
    "state": "open",
    "left": _SIDE_EXAMPLE,
    "right": _SIDE_EXAMPLE
    | {
        "member_id": _RIGHT,
        "household_id": "8e3f1a2b-7c64-4d19-a5e0-3b6c9d1f4e22",
        "name": "Muhamad Rizky Saputra",
        "nik_last4": None,
        "address": "Jl. Kapal Selam Gg. Teratai No. 5A",
        "head_name": "Rahmat Hidayat",
    },
    "detected_at": "2026-11-29T02:15:00Z",
    "kept_member_id": None,
    "decided_by": None,
    "decided_at": None,
    "note": None,
    "cursor": "0.97_5d7a9c31-6e2b-4f80-b1c4-9a3e2d7f6b21",
}


class MemberSide(BaseModel):
    """Satu sisi pasangan, seperti yang dilihat pencocok (one member as the matcher saw it)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_SIDE_EXAMPLE]})

    member_id: UUID
    household_id: UUID
    name: str
    sex: Literal["L", "P"]
    birth_date: date | None
    nik_last4: str | None = Field(description="Empat digit terakhir NIK; kosong bila tanpa NIK")
    kelurahan_code: str
    rw: int
    rt: int
    address: str
    head_name: str = Field(description="Kepala keluarga rumah tangga anggota ini")


class DuplicateView(BaseModel):
    """Calon duplikat: dua catatan yang mungkin satu orang (two records, maybe one person)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_DUPLICATE_EXAMPLE]})

    id: UUID
    score: float = Field(description="Perkiraan peluang keduanya satu orang (0..1)")
    reasons: list[str] = Field(description="Alasan, untuk petugas kelurahan")
    state: State = Field(
        description="open; merged (digabung); not_duplicate (bukan duplikat); closed (salah satu "
        "anggota sudah dihapus atau digabung di pasangan lain)"
    )
    left: MemberSide
    right: MemberSide
    detected_at: datetime
    kept_member_id: UUID | None = Field(description="Anggota yang dipertahankan saat digabung")
    decided_by: str | None = Field(description="Petugas yang memutuskan (officer)")
    decided_at: datetime | None
    note: str | None = Field(description="Catatan keputusan petugas")
    cursor: str = Field(description="Kirim sebagai `after` untuk halaman sesudah baris ini")

    @classmethod
    def of(cls, row: Any) -> DuplicateView:
        left, right = row.sides
        return cls(
            id=row.id,
            score=row.score,
            reasons=row.reasons,
            state=row.state,
            left=MemberSide(**left),
            right=MemberSide(**right),
            detected_at=row.detected_at,
            kept_member_id=row.kept_member_id,
            decided_by=row.decided_by,
            decided_at=row.decided_at,
            note=row.note,
            cursor=duplicates.cursor(row),
        )


class DuplicatePage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_DUPLICATE_EXAMPLE], "next_after": None}]}
    )

    items: list[DuplicateView]
    next_after: str | None = Field(description="Kirim sebagai `after` untuk halaman berikutnya")


class Decide(BaseModel):
    """Keputusan petugas kelurahan (the kelurahan officer's decision)."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "decision": "merge",
                    "keep_member_id": _LEFT,
                    "note": "Orang yang sama, dicek ke KK asli; tercatat ulang di rumah neneknya",
                    "officer": "Nur Hasanah (Kasi Pemerintahan Kel. Api-Api)",
                },
                {
                    "decision": "not_duplicate",
                    "note": "Saudara kembar, dua orang berbeda",
                    "officer": "Nur Hasanah (Kasi Pemerintahan Kel. Api-Api)",
                },
            ]
        },
    )

    decision: Decision = Field(description="merge (gabungkan) atau not_duplicate (bukan duplikat)")
    keep_member_id: UUID | None = Field(
        default=None,
        description="Wajib untuk merge: anggota yang dipertahankan; yang lain dihapus dan "
        "pengukurannya pindah ke anggota ini",
    )
    note: Annotated[str, Field(min_length=3, max_length=1000, description="Alasan keputusan")]
    officer: Annotated[
        str | None,
        Field(
            min_length=2,
            max_length=200,
            description="Nama petugas untuk dibaca, opsional; yang tercatat memutuskan adalah "
            "pemilik token (the officer's name, optional: who decided is the token's owner)",
        ),
    ] = None


class ScanRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"kelurahan_code": "64.74.01.1006"}]}
    )

    kelurahan_code: str | None = Field(
        default=None, description="Kosong: seluruh kota (empty: the whole city)"
    )

    @field_validator("kelurahan_code")
    @classmethod
    def _known_kelurahan(cls, code: str | None) -> str | None:
        if code is not None and areas.kelurahan(code) is None:
            raise ValueError(
                f"kelurahan {code!r} tidak ada di Kota Bontang (not a kelurahan of Kota Bontang)"
            )
        return code


class Queued(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"queued": 11840}]})

    queued: int = Field(description="Anggota yang masuk antrean pemeriksaan (members queued)")


def routes(runtime: Runtime) -> APIRouter:
    router = APIRouter(tags=["duplikat (duplicates)"], responses=PROBLEMS)
    uow, engine = runtime.uow, runtime.engine
    reads = runtime.definition.tables.read_audit

    @router.get(
        "/duplicates",
        dependencies=allow(Role.KELURAHAN, Role.KECAMATAN, Role.COORDINATOR),
        summary="Antrean calon duplikat (duplicate review queue)",
    )
    async def list_duplicates(
        principal: Caller,
        request: Request,
        purpose: Purpose = None,
        kelurahan_code: str | None = None,
        state: State | None = "open",
        min_score: Annotated[float | None, Query(ge=0, le=1)] = None,
        after: str | None = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> DuplicatePage:
        where = CandidateFilter(kelurahan_code=kelurahan_code, state=state, min_score=min_score)
        where = scope.candidates_narrowed(where, principal)
        with answers():
            rows = await duplicates.list_candidates(engine, where, after=after, limit=limit)
        # Members of many households, side by side: recorded once the scope check passed.
        await record_reads(engine, reads, request, principal, "duplicates", [None], purpose)
        return DuplicatePage(
            items=[DuplicateView.of(r) for r in rows],
            next_after=duplicates.cursor(rows[-1]) if len(rows) == limit else None,
        )

    # Before /duplicates/{candidate_id}, which would take "scan" for an id.
    @router.post(
        "/duplicates/scan",
        dependencies=allow(Role.KELURAHAN, Role.COORDINATOR),
        status_code=202,
        summary="Periksa ulang anggota sekelurahan atau sekota (queue a new scan)",
    )
    async def scan(body: ScanRequest, principal: Caller) -> Queued:
        scope.check_scan(principal, body.kelurahan_code)
        return Queued(queued=await duplicates.queue_kelurahan(uow, body.kelurahan_code))

    @router.get(
        "/duplicates/scan",
        dependencies=allow(Role.KELURAHAN, Role.KECAMATAN, Role.COORDINATOR),
        summary="Anggota yang menunggu pemeriksaan (queued members)",
    )
    async def waiting() -> Queued:
        return Queued(queued=await duplicates.waiting(engine))

    @router.get(
        "/duplicates/{candidate_id}",
        dependencies=allow(Role.KELURAHAN, Role.KECAMATAN, Role.COORDINATOR),
        summary="Satu calon duplikat, berdampingan",
    )
    async def read(
        candidate_id: UUID, principal: Caller, request: Request, purpose: Purpose = None
    ) -> DuplicateView:
        with answers():
            candidate = await duplicates.load_candidate(engine, candidate_id)
        shown = DuplicateView.of(scope.candidate_seen(principal, candidate))
        # Two members, each of a household: a read of both.
        households = (candidate.left_household_id, candidate.right_household_id)
        await record_reads(engine, reads, request, principal, "duplicate", households, purpose)
        return shown

    @router.post(
        "/duplicates/{candidate_id}/decision",
        dependencies=allow(Role.KELURAHAN),
        summary="Putuskan: gabungkan atau bukan duplikat (merge or not a duplicate)",
    )
    async def decide(candidate_id: UUID, body: Decide, principal: Caller) -> DuplicateView:
        with answers():
            scope.candidate_seen(principal, await duplicates.load_candidate(engine, candidate_id))
            await duplicates.decide(
                uow,
                candidate_id,
                decision=body.decision,
                keep_member_id=body.keep_member_id,
                note=body.note,
                # Who decided is the verified caller, never a name a client may type.
                officer=f"{principal.role.value}:{principal.subject}",
                officer_name=body.officer,
            )
            return DuplicateView.of(await duplicates.load_candidate(engine, candidate_id))

    return router
