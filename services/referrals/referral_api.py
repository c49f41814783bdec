"""HTTP routes of referrals: the directory, the lifecycle, and the coordinator's queries."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sinergi_contracts import Outcome
from sinergi_contracts.referral import ReferralStatus

from services.referrals import directory as directories
from services.referrals import lifecycle, reports, scope
from services.referrals import referrals as use_cases
from services.referrals.directory import LADDER_LENGTH, WITA
from services.referrals.referrals import Referral
from sinergi.actors import current_actor
from sinergi.audit import Purpose, audited, record_reads
from sinergi.auth import CASE_READERS, CASE_WORKERS, EVERYONE, MANAGERS, Caller, Role, allow
from sinergi.errors import (
    FieldRejected,
    ProblemDetail,
    ValidationProblem,
    answers,
    problem,
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

_HOUSEHOLD = "0c9e5b7a-2d41-4e8f-b3a6-5f1d8c2e9b10"


class RequestReferral(BaseModel):
    """Rujukan baru oleh kelurahan, atau diteruskan instansi (`parent_id`)."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "household_id": _HOUSEHOLD,
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


class CohortHouseholdView(BaseModel):
    household_id: UUID
    kelurahan_code: str
    rw: int
    rt: int
    poverty_status: str | None = Field(description="Status kemiskinan kini (poverty status now)")


class CohortPageView(BaseModel):
    """Rumah tangga di balik satu angka 100 hari, urut ID (the households behind a figure)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "household_id": _HOUSEHOLD,
                            "kelurahan_code": "64.74.01.1003",
                            "rw": 3,
                            "rt": 12,
                            "poverty_status": "miskin_ekstrem",
                        }
                    ],
                    "next_after": None,
                }
            ]
        }
    )

    items: list[CohortHouseholdView]
    next_after: str | None = Field(description="Kirim sebagai `after` untuk halaman berikutnya")


class StuntedChildView(BaseModel):
    member_id: UUID
    household_id: UUID
    kelurahan_code: str
    referred: bool = Field(description="Dirujuk: rujukan yang masih berlaku menyebut anak ini")


class StuntedPageView(BaseModel):
    """Anak stunting di balik angka dasbor, urut ID anggota (the children behind a figure)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "member_id": "5b2f0c1e-8a7d-4c39-9e61-3d4a2b1c0f77",
                            "household_id": _HOUSEHOLD,
                            "kelurahan_code": "64.74.01.1003",
                            "referred": True,
                        }
                    ],
                    "next_after": None,
                }
            ]
        }
    )

    items: list[StuntedChildView]
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
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)


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

    @router.get(
        "/reports/handoff-latency",
        dependencies=allow(*MANAGERS),
        tags=["laporan (reports)"],
        summary="Lama serah-terima per instansi (handoff latency per agency), jam",
    )
    async def latency() -> list[dict[str, Any]]:
        return [asdict(x) for x in await reports.handoff_latency(engine)]

    @router.get(
        "/reports/hundred-days",
        dependencies=allow(*MANAGERS),
        tags=["laporan (reports)"],
        summary="100 hari: rumah tangga miskin ekstrem terverifikasi, hari ke-0, kini, lulus",
    )
    async def hundred_days() -> list[dict[str, Any]]:
        return [asdict(x) for x in await reports.hundred_days(engine, directory, use_cases.now())]

    @router.get(
        "/reports/hundred-days/households",
        dependencies=allow(*MANAGERS),
        tags=["laporan (reports)"],
        summary="100 hari: rumah tangga di balik angka (the households behind a figure)",
        description="The verified households one figure of `/reports/hundred-days` counts for "
        "a priority kelurahan or `kota`: `at_start` (extreme poor at day 0), `now` (extreme "
        "poor now), `graduated`; classified as the figures are, ordered by household id. A "
        "kelurahan lists its own, a kecamatan its kelurahan's (another's: 403), an agency the "
        "households it serves; `kota` is the caller's share of the city.",
    )
    async def hundred_days_households(
        principal: Caller,
        request: Request,
        kelurahan: Annotated[
            str, Query(max_length=16, description="Kode kelurahan prioritas, atau `kota`")
        ],
        cohort: Annotated[
            reports.Cohort,
            Query(description="at_start: hari ke-0; now: kini; graduated: lulus"),
        ],
        purpose: Purpose = None,
        after: UUID | None = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> CohortPageView:
        if kelurahan != "kota":
            if kelurahan not in directory.hundred_days_kelurahan:
                raise unprocessable(
                    FieldRejected(
                        field="kelurahan", rule="hundred_days",
                        pesan="bukan kelurahan prioritas 100 hari; kodenya, atau `kota`",
                        message="not a priority kelurahan of the 100 days; its code, or `kota`",
                    )
                )  # fmt: skip
            scope.check_kelurahan(principal, kelurahan)
        page = await reports.cohort_households(
            engine, directory, kelurahan, cohort,
            after=None if after is None else str(after), limit=limit,
            within=scope.visible_households(principal),
        )  # fmt: skip
        # The list names households: each one shown is recorded (the read itself, if none).
        shown: list[str | None] = [h.household_id for h in page.items] or [None]
        await record_reads(engine, reads, request, principal, "hundred-days", shown, purpose)
        return CohortPageView(
            items=[CohortHouseholdView(**asdict(h)) for h in page.items],
            next_after=page.next_after,
        )

    @router.get(
        "/reports/stunting/children",
        dependencies=allow(*MANAGERS),
        tags=["laporan (reports)"],
        summary="Anak stunting di balik angka (the stunted children behind the figures)",
        description="The children the dashboard's `stunting` counts: `referred=true` those "
        "referred, `false` those not, absent every child found; a merged child once, as the "
        "record kept; ordered by member id. Health data: a kelurahan (its own) and health "
        "agencies (the households they serve) only; others get 403.",
    )
    async def stunted_children(
        principal: Caller,
        request: Request,
        referred: bool | None = None,
        purpose: Purpose = None,
        after: UUID | None = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> StuntedPageView:
        if not scope.sees_health(principal, directory):
            raise problem(
                403,
                "anak stunting adalah data kesehatan: hanya untuk kelurahan dan instansi "
                "kesehatan (stunted children are health data: for the kelurahan and health "
                "agencies only)",
            )
        page = await reports.stunted_children_page(
            engine, referred=referred, after=None if after is None else str(after), limit=limit,
            within=scope.visible_households(principal),
        )  # fmt: skip
        # The list names households: each one shown is recorded (the read itself, if none).
        shown: list[str | None] = [c.household_id for c in page.items] or [None]
        await record_reads(engine, reads, request, principal, "stunting", shown, purpose)
        return StuntedPageView(
            items=[StuntedChildView(**asdict(c)) for c in page.items], next_after=page.next_after
        )

    @router.get(
        "/reports/contributions",
        dependencies=allow(Role.COORDINATOR, Role.KECAMATAN, Role.KELURAHAN),
        tags=["laporan (reports)"],
        summary="Kontribusi per RT dan per kader (for the city's incentive payments)",
        description="Between `from` and `to` (dates, WITA, `to` included): per RT, households "
        "registered and verified, visits and child measurements of its households; per person "
        "who recorded them (as the events' `recorded_by`), visits and measurements. A "
        "kelurahan sees its own RTs, a kecamatan its kelurahan's.",
    )
    async def contribution_report(
        principal: Caller,
        start: Annotated[date, Query(alias="from")],
        end: Annotated[date, Query(alias="to")],
    ) -> dict[str, Any]:
        for field, day in (("from", start), ("to", end)):
            if not EARLIEST <= day <= LATEST:
                raise unprocessable(
                    FieldRejected(
                        field=field, rule="range", pesan=f"antara {EARLIEST} dan {LATEST}",
                        message=f"between {EARLIEST} and {LATEST}",
                    )
                )  # fmt: skip
        if end < start:
            raise unprocessable(
                FieldRejected(
                    field="to", rule="after_from", pesan="harus sama atau sesudah `from`",
                    message="must be on or after `from`",
                )
            )  # fmt: skip
        prefix = (
            principal.kelurahan or ""
            if principal.role is Role.KELURAHAN
            else f"{principal.kecamatan}."
            if principal.role is Role.KECAMATAN
            else ""
        )
        # As UTC: SQLite compares the stored UTC text, not the zone of a bound value.
        since = datetime.combine(start, time(), WITA).astimezone(UTC)
        until = datetime.combine(end + timedelta(days=1), time(), WITA).astimezone(UTC)
        rts, people = await reports.contributions(engine, since, until, kelurahan_prefix=prefix)
        return {
            "from": start,
            "to": end,
            "per_rt": [asdict(x) for x in rts],
            "per_person": [asdict(x) for x in people],
        }

    dashboards = reports.DashboardCache(
        engine, directory, (settings.database_url, settings.database_schema)
    )

    @router.get(
        "/reports/dashboard",
        dependencies=allow(*MANAGERS, Role.AUDITOR),  # aggregates: no personal data
        tags=["laporan (reports)"],
        summary="Dasbor 100 hari dalam satu bacaan (the 100-day dashboard in one read)",
        description="The hundred-days figures, their burndown (point 0 = the start, then the "
        "end of each day, the last point now), the referral funnel and overdue referrals by "
        "escalation level per agency, handoff latency, and stunted children found and referred.",
    )
    async def dashboard() -> dict[str, Any]:
        return await dashboards.read(use_cases.now())

    return router
