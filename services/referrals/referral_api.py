"""HTTP routes of referrals: the directory, the lifecycle, the referral lists and a
household's benefits. The reports are in `report_api`."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sinergi_contracts import Outcome
from sinergi_contracts.referral import ReferralStatus

from services.referrals import directory as directories
from services.referrals import lifecycle, reports, scope
from services.referrals import referrals as use_cases
from services.referrals.directory import LADDER_LENGTH
from services.referrals.referrals import Referral
from sinergi.actors import current_actor
from sinergi.audit import Purpose, audited, record_reads
from sinergi.auth import CASE_READERS, CASE_WORKERS, EVERYONE, Caller, allow
from sinergi.errors import (
    FieldRejected,
    ProblemDetail,
    ValidationProblem,
    answers,
    unprocessable,
)
from sinergi.service import Runtime

PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"model": ProblemDetail},
    403: {"model": ProblemDetail},
    404: {"model": ProblemDetail},
    409: {"model": ProblemDetail},
    422: {"model": ValidationProblem},
}
Action = Literal[
    "receive", "accept", "reject", "start", "hold", "resume", "complete", "fail", "cancel",
    "mark-error",
]  # fmt: skip
Actor = Annotated[str, Depends(current_actor)]

EXAMPLE_HOUSEHOLD = "0c9e5b7a-2d41-4e8f-b3a6-5f1d8c2e9b10"


class RequestReferral(BaseModel):
    """Rujukan baru oleh kelurahan, atau diteruskan instansi (`parent_id`)."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "household_id": EXAMPLE_HOUSEHOLD,
                    "programme": "baznas-zakat-produktif",
                    "note": "Kepala keluarga berjualan kue keliling, butuh modal gerobak",
                }
            ]
        },
    )

    household_id: UUID
    programme: str = Field(description="Kode program dari GET /directory, mis. dspm-bansos")
    member_id: UUID | None = Field(default=None, description="Anggota yang dirujuk, bila satu")
    note: str | None = Field(default=None, max_length=2000, description="Catatan untuk penerima")
    parent_id: UUID | None = Field(
        default=None,
        description="Rujukan induk: diteruskan instansi penanganan, atau dirujuk ulang",
    )


class Step(BaseModel):
    """Langkah rujukan (one step of the lifecycle)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"reason": "Sudah menerima bantuan serupa dari program lain bulan ini"},
                {
                    "outcome": {
                        "delivered": "Modal usaha gerobak dan bahan kue",
                        "delivered_on": "2026-11-27",
                        "amount_idr": 3500000,
                    }
                },
            ]
        },
    )

    reason: str | None = Field(
        default=None, max_length=2000, description="Wajib untuk reject, hold, fail, cancel"
    )
    outcome: Outcome | None = Field(default=None, description="Wajib untuk complete")


class ReferralView(BaseModel):
    """Rujukan dan langkah yang boleh diambil pemanggil (and the caller's next actions)."""

    id: UUID
    household_id: UUID
    member_id: UUID | None
    kelurahan_code: str
    programme: str
    agency: str
    funding: str
    referrer: str
    status: ReferralStatus
    note: str | None
    reason: str | None
    outcome: dict[str, Any] | None
    parent_id: UUID | None
    rule: str | None = Field(description="Aturan otomatis yang memicu rujukan ini, bila ada")
    facts: dict[str, Any] | None = Field(description="Fakta yang memicu aturan itu")
    requested_at: datetime
    status_since: datetime
    due_at: datetime | None = Field(description="Tenggat langkah berikutnya")
    escalation_level: int = Field(description="0 = tepat waktu; 1 RT … 5 koordinator")
    version: int = Field(description="Kirim sebagai If-Match untuk mengubah (send as If-Match)")
    allowed_actions: list[str] = Field(description="Yang boleh dilakukan pemanggil sekarang")

    @classmethod
    def of(cls, referral: Referral, actor: str | None) -> ReferralView:
        sides = (
            lifecycle.sides_of(actor, referrer=referral.referrer, agency=referral.agency)
            if actor
            else set()
        )
        return cls(**asdict(referral), allowed_actions=lifecycle.allowed(referral.status, sides))


class ReferralPage(BaseModel):
    items: list[ReferralView]
    next_after: str | None = Field(description="Kirim sebagai `after` untuk halaman berikutnya")


def _expected(if_match: str | None) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    try:
        return int(if_match.strip().removeprefix("W/").strip('"'))
    except ValueError:
        raise FieldRejected(
            field="If-Match",
            rule="version",
            pesan='If-Match berisi versi rujukan, mis. "3"',
            message='If-Match holds the referral version, e.g. "3"',
        ) from None


def _tagged(response: Response, referral: Referral) -> None:
    response.headers["ETag"] = f'"{referral.version}"'


# The days a report may ask for: the platform's data, not the calendar's ends.


def routes(runtime: Runtime) -> APIRouter:
    router = APIRouter(tags=["rujukan (referrals)"], responses=PROBLEMS)
    uow, engine, settings = runtime.uow, runtime.engine, runtime.settings
    reads = runtime.definition.tables.read_audit
    directory = directories.load(settings.directory_file)

    @router.get(
        "/directory",
        dependencies=allow(*EVERYONE),
        summary="Instansi, program, tangga eskalasi (agencies, programmes, escalation ladder)",
    )
    async def read_directory() -> dict[str, Any]:
        return {
            "agencies": [
                {
                    "code": a.code,
                    "name": a.name,
                    "health": a.health,
                    "sla": {k: asdict(v) for k, v in a.sla.items()},
                }
                for a in directory.agencies.values()
            ],
            "programmes": [asdict(p) for p in directory.programmes.values()],
            "ladder": list(directory.ladder),  # who an overdue referral reaches, level 1 up
        }

    @router.post(
        "/referrals",
        dependencies=allow(*CASE_WORKERS),
        status_code=201,
        summary="Rujuk rumah tangga ke program instansi",
    )
    async def request(body: RequestReferral, actor: Actor, response: Response) -> ReferralView:
        with answers():
            referral = await use_cases.request_alone(
                uow, directory, actor=actor, **body.model_dump()
            )
        _tagged(response, referral)
        return ReferralView.of(referral, actor)

    @router.get(
        "/referrals",
        dependencies=allow(*CASE_READERS),
        summary="Daftar rujukan: status, instansi, kelurahan, umur",
    )
    async def list_referrals(
        principal: Caller,
        request: Request,
        purpose: Purpose = None,
        status: ReferralStatus | None = None,
        agency: str | None = None,
        kelurahan_code: str | None = None,
        household_id: UUID | None = None,
        older_than_days: Annotated[float | None, Query(ge=0, le=36_500)] = None,
        overdue: bool | None = None,
        escalation_level: Annotated[
            int | None,
            Query(
                ge=1,
                le=LADDER_LENGTH,
                description="Hanya rujukan terlambat di anak tangga eskalasi ini, bersama "
                "`overdue=true`; tingkat 1 juga memuat tingkat 0 (terlambat, belum dinaikkan), "
                "seperti dasbor menghitungnya (only overdue referrals at this rung, with "
                "`overdue=true`; rung 1 holds level 0 too, as the dashboard counts it)",
            ),
        ] = None,
        after: str | None = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> ReferralPage:
        if escalation_level is not None and overdue is not True:
            # A rung counts overdue referrals: on-time ones are at level 0, which rung 1 holds.
            raise unprocessable(
                FieldRejected(
                    field="escalation_level", rule="with_overdue",
                    pesan="hanya bersama overdue=true", message="only with overdue=true",
                )
            )  # fmt: skip
        where = reports.ReferralFilter(
            status=status,
            agency=agency,
            kelurahan_code=kelurahan_code,
            household_id=household_id,
            older_than_days=older_than_days,
            overdue=overdue,
            escalation_level=escalation_level,
        )
        with answers():
            found = await reports.list_referrals(
                engine,
                where,
                after=after,
                limit=limit,
                now=use_cases.now(),
                within=scope.visible_referrals(principal),
            )
        # A list's reads are recorded as asked: its filters, and the household if it names one.
        await record_reads(engine, reads, request, principal, "referrals", [household_id], purpose)
        return ReferralPage(
            items=[ReferralView.of(r, principal.actor) for r in found],
            next_after=str(found[-1].id) if len(found) == limit else None,
        )

    @router.get(
        "/referrals/{referral_id}",
        dependencies=allow(*CASE_READERS),
        summary="Satu rujukan, dengan ETag",
    )
    async def read(
        referral_id: UUID,
        response: Response,
        principal: Caller,
        request: Request,
        purpose: Purpose = None,
    ) -> ReferralView:
        with answers():
            async with engine.connect() as conn:
                referral = await use_cases.load(conn, referral_id)
        scope.referral_seen(referral, principal)
        households = [referral.household_id]
        await record_reads(engine, reads, request, principal, "referral", households, purpose)
        _tagged(response, referral)
        return ReferralView.of(referral, principal.actor)

    @router.post(
        "/referrals/{referral_id}/{action}",
        dependencies=allow(*CASE_WORKERS),
        summary="Langkah rujukan: receive, accept, reject, start, hold, resume, complete, "
        "fail, cancel, mark-error",
    )
    async def step(
        referral_id: UUID,
        action: Action,
        body: Step,
        principal: Caller,
        response: Response,
        if_match: Annotated[str | None, Header(description='Versi yang dilihat, mis. "3"')] = None,
    ) -> ReferralView:
        actor = principal.actor
        with answers():
            async with engine.connect() as conn:
                scope.referral_seen(await use_cases.load(conn, referral_id), principal)
            referral = await use_cases.act(
                uow,
                directory,
                referral_id,
                action,
                actor=actor,
                expected_version=_expected(if_match),
                reason=body.reason,
                outcome=body.outcome,
            )
        _tagged(response, referral)
        return ReferralView.of(referral, actor)

    @router.get(
        "/households/{household_id}/benefits",
        dependencies=[
            *allow(*CASE_READERS),
            scope.household_seen(engine),
            audited(engine, reads, "benefits"),
        ],
        summary="Manfaat yang diterima rumah tangga, semua sumber dana (active benefits)",
    )
    async def household_benefits(household_id: UUID) -> list[dict[str, Any]]:
        found = await reports.list_referrals(
            engine,
            reports.ReferralFilter(household_id=household_id),
            after=None,
            limit=1000,
            now=use_cases.now(),
        )
        return reports.benefits(found)

    return router
