"""HTTP routes of the coordinators' reports: handoff latency, the 100 days and the households
behind each figure, the stunted children, contributions for the incentive payments, and the
dashboard in one read."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from services.referrals import directory as directories
from services.referrals import hundred_days as hundred
from services.referrals import referrals as use_cases
from services.referrals import reports, scope, stunting
from services.referrals.directory import WITA
from services.referrals.referral_api import EXAMPLE_HOUSEHOLD, PROBLEMS
from sinergi.audit import Purpose, record_reads
from sinergi.auth import MANAGERS, Caller, Role, allow
from sinergi.errors import (
    FieldRejected,
    problem,
    unprocessable,
)
from sinergi.service import Runtime

EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)


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
                            "household_id": EXAMPLE_HOUSEHOLD,
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
                            "household_id": EXAMPLE_HOUSEHOLD,
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


def routes(runtime: Runtime) -> APIRouter:
    router = APIRouter(responses=PROBLEMS)  # each route tagged "laporan (reports)"
    engine, settings = runtime.engine, runtime.settings
    reads = runtime.definition.tables.read_audit
    directory = directories.load(settings.directory_file)

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
        return [asdict(x) for x in await hundred.hundred_days(engine, directory, use_cases.now())]

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
            hundred.Cohort,
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
        page = await hundred.cohort_households(
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
        page = await stunting.stunted_children_page(
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
