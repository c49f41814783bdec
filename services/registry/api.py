"""HTTP routes of the registry: thin, each one call on a handler."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request

from services.registry import areas, assessing, domain, handlers, queries, scope
from services.registry.assessment import shipped_rulesets
from services.registry.growth import hfa_curves as growth_lines
from services.registry.schemas import (
    AddMember,
    Assess,
    AssessmentView,
    ChangeKk,
    HouseholdDetailView,
    HouseholdPage,
    HouseholdView,
    MeasurementView,
    MemberView,
    RecordMeasurement,
    RecordVisit,
    RegisterHousehold,
    Rescore,
    ResolveConflict,
    ReturnToRt,
)
from sinergi.audit import Purpose, audited, record_reads
from sinergi.auth import AREA_READERS, EVERYONE, FIELD, Caller, Role, allow
from sinergi.errors import ProblemDetail, ValidationProblem, answers
from sinergi.service import Runtime

PROBLEMS: dict[int | str, dict[str, Any]] = {
    403: {"model": ProblemDetail},
    404: {"model": ProblemDetail},
    409: {"model": ProblemDetail},
    422: {"model": ValidationProblem},
}
MAX_IDS = 200  # household ids one list may name: a page of another list (its limit)


def routes(runtime: Runtime) -> APIRouter:
    router = APIRouter(tags=["rumah tangga (households)"], responses=PROBLEMS)
    uow, engine = runtime.uow, runtime.engine
    here = scope.in_area(engine)  # the path's household is in the caller's area
    reads = runtime.definition.tables.read_audit

    @router.post(
        "/households", dependencies=allow(*FIELD), status_code=201, summary="Daftarkan rumah tangga"
    )
    async def register(body: RegisterHousehold, principal: Caller) -> HouseholdView:
        scope.check_address(principal, body.kelurahan_code, body.rw, body.rt)
        with answers():
            return HouseholdView.of(await handlers.register_household(uow, **body.model_dump()))

    @router.get(
        "/households",
        dependencies=allow(*AREA_READERS),
        summary="Daftar rumah tangga, disaring (filtered list)",
    )
    async def list_households(
        principal: Caller,
        request: Request,
        purpose: Purpose = None,
        kelurahan_code: str | None = None,
        rw: Annotated[int | None, Query(ge=1, le=999)] = None,
        rt: Annotated[int | None, Query(ge=1, le=999)] = None,
        verification: domain.Verification | None = None,
        poverty_status: str | None = None,
        stunting: bool | None = None,
        household_id: Annotated[
            list[UUID] | None,
            Query(
                max_length=MAX_IDS,
                description=f"Hanya rumah tangga ini; ulangi, paling banyak {MAX_IDS} "
                f"(only these households; repeat, at most {MAX_IDS})",
            ),
        ] = None,
        after: str | None = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> HouseholdPage:
        where = queries.HouseholdFilter(
            kelurahan_code=kelurahan_code,
            rw=rw,
            rt=rt,
            verification=verification,
            poverty_status=poverty_status,
            stunting=stunting,
            household_ids=None if household_id is None else tuple(household_id),
        )
        where = scope.narrowed(where, principal)
        scope.check_health_filter(principal, stunting)
        # Recorded as asked, after the checks: its filters, and each household it names.
        named = household_id or (None,)
        await record_reads(engine, reads, request, principal, "households", named, purpose)
        found = await queries.list_households(engine, where, after=after, limit=limit)
        return HouseholdPage(
            items=[scope.withheld(HouseholdView.of(h), principal) for h in found],
            next_after=str(found[-1].id) if len(found) == limit else None,
        )

    @router.get(
        "/households/{household_id}",
        dependencies=[*allow(*AREA_READERS), here, audited(engine, reads, "household")],
        summary="Rincian rumah tangga (detail)",
    )
    async def read(household_id: UUID, principal: Caller) -> HouseholdDetailView:
        with answers():
            detail = await queries.household_detail(engine, household_id)
        view = HouseholdDetailView(
            **HouseholdView.of(detail.household).model_dump(),
            members=[MemberView.of(m) for m in detail.members],
            open_conflicts=detail.open_conflicts,
            latest_assessment=detail.latest_assessment,
            stunting_risks=detail.stunting_risks,
        )
        return scope.withheld(view, principal)

    @router.post(
        "/households/{household_id}/members",
        dependencies=[*allow(*FIELD), here],
        status_code=201,
        summary="Tambah anggota",
    )
    async def add_member(household_id: UUID, body: AddMember) -> MemberView:
        with answers():
            return MemberView.of(await handlers.add_member(uow, household_id, **body.model_dump()))

    @router.post(
        "/households/{household_id}/kk",
        dependencies=[*allow(*FIELD), here],
        summary="Ganti No. KK (riwayat disimpan)",
    )
    async def change_kk(household_id: UUID, body: ChangeKk) -> HouseholdView:
        with answers():
            return HouseholdView.of(
                await handlers.change_kk(uow, household_id, **body.model_dump())
            )

    @router.post(
        "/households/{household_id}/submit",
        dependencies=[*allow(*FIELD), here],
        summary="RT mengirim untuk verifikasi",
    )
    async def submit(household_id: UUID) -> HouseholdView:
        with answers():
            return HouseholdView.of(await handlers.submit(uow, household_id))

    @router.post(
        "/households/{household_id}/verify",
        dependencies=[*allow(Role.KELURAHAN), here],
        summary="Kelurahan memverifikasi",
    )
    async def verify(household_id: UUID) -> HouseholdView:
        with answers():
            return HouseholdView.of(await handlers.verify(uow, household_id))

    @router.post(
        "/households/{household_id}/return",
        dependencies=[*allow(Role.KELURAHAN), here],
        summary="Kelurahan mengembalikan ke RT",
    )
    async def return_to_rt(household_id: UUID, body: ReturnToRt) -> HouseholdView:
        with answers():
            return HouseholdView.of(await handlers.return_to_rt(uow, household_id, note=body.note))

    @router.post(
        "/nik-conflicts/{conflict_id}/resolve",
        dependencies=allow(Role.KELURAHAN),
        status_code=204,
        summary="Selesaikan konflik NIK (resolve a NIK conflict)",
    )
    async def resolve(conflict_id: UUID, body: ResolveConflict, principal: Caller) -> None:
        household_id = await queries.conflict_household(engine, conflict_id)
        if household_id is not None:  # a missing conflict answers 404 from the handler
            await scope.check_household(engine, principal, household_id)
        with answers():
            await handlers.resolve_conflict(
                uow, conflict_id, remove_member=body.remove_member, note=body.note
            )

    @router.post(
        "/households/{household_id}/visits",
        dependencies=[*allow(Role.RT, Role.KADER, Role.KELURAHAN), here],
        status_code=201,
        summary='Catat kunjungan "Tengok Tetangga"',
    )
    async def visit(household_id: UUID, body: RecordVisit) -> dict[str, UUID]:
        with answers():
            visit_id = await handlers.record_visit(uow, household_id, **body.model_dump())
        return {"id": visit_id}

    @router.post(
        "/households/{household_id}/members/{member_id}/measurements",
        dependencies=[*allow(Role.KADER, Role.KELURAHAN), here],
        status_code=201,
        summary="Catat pengukuran anak (record a child measurement)",
    )
    async def measure(
        household_id: UUID, member_id: UUID, body: RecordMeasurement
    ) -> MeasurementView:
        with answers():
            measurement_id, result = await handlers.record_measurement(
                uow, household_id, member_id, **body.model_dump()
            )
        return MeasurementView.of(measurement_id, result)

    @router.get(
        "/households/{household_id}/members/{member_id}/growth",
        dependencies=[*allow(Role.KADER, Role.KELURAHAN), here],
        summary="Grafik pertumbuhan anak: pengukuran dan kurva WHO (growth chart data)",
        description="The child's measurements (age, length/height, TB/U z-score and category) "
        "and the WHO 2006 length/height-for-age lines at z = -3, -2, 0, +2, +3 for the child's "
        "sex, 0-60 months. Health data: for cadres and the kelurahan only.",
    )
    async def growth_chart(household_id: UUID, member_id: UUID) -> dict[str, Any]:
        with answers():
            child, found = await queries.child_growth(engine, household_id, member_id)
        return {
            "member_id": member_id,
            "name": child.name,
            "sex": child.sex,
            "birth_date": child.birth_date,
            "measurements": found,
            "curves": growth_lines(child.sex),
        }

    @router.post(
        "/households/{household_id}/assessments",
        dependencies=[*allow(*FIELD), here],
        status_code=201,
        summary="Nilai kemiskinan rumah tangga (assess a household)",
    )
    async def assess(household_id: UUID, body: Assess) -> AssessmentView:
        with answers():
            assessment_id, score = await assessing.assess(uow, household_id, **body.model_dump())
        return AssessmentView(
            id=assessment_id,
            ruleset=score.ruleset_key,
            criteria_met=list(score.met),
            screening=score.screening_fired,
            status=score.status,
        )

    @router.get(
        "/rulesets",
        dependencies=allow(*EVERYONE),
        tags=["aturan (rulesets)"],
        summary="Aturan penilaian yang berlaku",
    )
    async def rulesets() -> list[dict[str, Any]]:
        return [asdict(r) | {"key": r.key} for r in shipped_rulesets().values()]

    @router.post(
        "/rulesets/rescore",
        dependencies=allow(Role.COORDINATOR),
        tags=["aturan (rulesets)"],
        summary="Nilai ulang rumah tangga dengan versi aturan baru (re-score after a change)",
    )
    async def rescore(body: Rescore) -> dict[str, Any]:
        with answers():
            return asdict(await assessing.rescore(uow, old=body.old, new=body.new))

    @router.get(
        "/areas",
        dependencies=allow(*EVERYONE),
        tags=["wilayah (areas)"],
        summary="Pohon wilayah Kota Bontang",
    )
    async def area_tree() -> list[areas.AreaNode]:
        return areas.tree()

    return router
