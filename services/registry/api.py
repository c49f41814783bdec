"""HTTP routes of the registry: thin, each one call on a handler."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.registry import areas, handlers
from services.registry.domain import DuplicateKK, Household
from sinergi.errors import ProblemDetail, problem
from sinergi.service import Runtime


class RegisterHousehold(BaseModel):
    """Pendaftaran rumah tangga oleh Ketua RT (a household registered by the head of the RT)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

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


class HouseholdView(BaseModel):
    id: UUID
    kelurahan_code: str
    kelurahan_name: str
    rw: int
    rt: int
    address: str
    head_name: str
    no_kk_masked: str = Field(description="No. KK, hanya 4 digit terakhir (last four digits)")
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
            no_kk_masked="************" + household.no_kk[-4:],
            registered_at=household.registered_at,
            version=household.version,
        )


def routes(runtime: Runtime) -> APIRouter:
    router = APIRouter(prefix="/households", tags=["rumah tangga (households)"])

    @router.post(
        "",
        status_code=status.HTTP_201_CREATED,
        summary="Daftarkan rumah tangga (register a household)",
        responses={409: {"model": ProblemDetail}},
    )
    async def register(body: RegisterHousehold) -> HouseholdView:
        try:
            household = await handlers.register_household(runtime.uow, **body.model_dump())
        except DuplicateKK as duplicate:
            raise problem(status.HTTP_409_CONFLICT, str(duplicate)) from None
        return HouseholdView.of(household)

    @router.get(
        "/{household_id}",
        summary="Lihat rumah tangga (read a household)",
        responses={404: {"model": ProblemDetail}},
    )
    async def read(household_id: UUID) -> HouseholdView:
        household = await handlers.get_household(runtime.engine, household_id)
        if household is None:
            raise problem(
                status.HTTP_404_NOT_FOUND, "Rumah tangga tidak ditemukan (household not found)"
            )
        return HouseholdView.of(household)

    return router
