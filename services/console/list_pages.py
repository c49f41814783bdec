"""The lists behind the dashboard's numbers: referrals by agency, status and lateness."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.console.agency_pages import age_days
from services.console.backend import BackendError
from services.console.labels import STATUS_LABELS
from services.console.web import Web
from sinergi.auth import Role

LIST_ROLES = frozenset({Role.COORDINATOR, Role.KECAMATAN, Role.KELURAHAN})


def routes(web: Web) -> APIRouter:
    router = APIRouter()

    @router.get("/daftar-rujukan", response_class=HTMLResponse)
    async def referral_list(
        request: Request, agency: str = "", status: str = "", overdue: bool = False
    ) -> Response:
        signed = await web.signed_in(request, LIST_ROLES)
        if isinstance(signed, Response):
            return signed
        params: dict[str, str | int | bool] = {"limit": 200}
        if agency:
            params["agency"] = agency
        if status in STATUS_LABELS:
            params["status"] = status
        if overdue:
            params["overdue"] = True
        try:
            found = await web.backend.get("referrals", "/referrals", signed.token, params)
        except BackendError as error:
            return web.trouble(request, error, signed.principal)
        now = datetime.now(UTC)
        items = [i | {"age_days": age_days(i["requested_at"], now)} for i in found["items"]]
        return await web.view(
            request, "daftar_rujukan.html", signed, items=items, agency=agency,
            status=status if status in STATUS_LABELS else "", overdue=overdue,
            more=found["next_after"] is not None,
        )  # fmt: skip

    @router.get("/daftar-rumah-tangga", response_class=HTMLResponse)
    async def household_list(
        request: Request, kelurahan: str = "", kemiskinan: str = "miskin_ekstrem"
    ) -> Response:
        """Verified households by kelurahan and current poverty status: the list behind the
        dashboard's "now" figure."""
        signed = await web.signed_in(request, LIST_ROLES)
        if isinstance(signed, Response):
            return signed
        params: dict[str, str | int] = {"verification": "verified", "limit": 200}
        if kelurahan and kelurahan != "kota":
            params["kelurahan_code"] = kelurahan
        if kemiskinan:
            params["poverty_status"] = kemiskinan
        try:
            found = await web.backend.get("registry", "/households", signed.token, params)
        except BackendError as error:
            return web.trouble(request, error, signed.principal)
        return await web.view(
            request, "daftar_rumah_tangga.html", signed, items=found["items"],
            kelurahan=kelurahan, kemiskinan=kemiskinan, more=found["next_after"] is not None,
        )  # fmt: skip

    return router
