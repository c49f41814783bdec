"""The lists behind the dashboard's numbers: referrals by agency, status and lateness; the
households behind each 100-day card's figures."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.console.agency_pages import age_days
from services.console.backend import BackendError
from services.console.dashboard import card_name
from services.console.labels import STATUS_LABELS
from services.console.web import Web
from sinergi.auth import Role

LIST_ROLES = frozenset({Role.COORDINATOR, Role.KECAMATAN, Role.KELURAHAN})
# A 100-day card's figures, by the console's word: the referrals service's cohort, and what the
# list's heading calls its households.
COHORTS = {
    "hari0": ("at_start", "Miskin ekstrem pada hari ke-0"),
    "lulus": ("graduated", "Lulus dari miskin ekstrem"),
    "kini": ("now", "Miskin ekstrem kini"),
}
PAGE = 50  # households a page: their ids go to the registry in one request's query string


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

    @router.get("/daftar-100-hari", response_class=HTMLResponse)
    async def cohort_list(
        request: Request, kelurahan: str = "kota", kelompok: str = "kini", setelah: str = ""
    ) -> Response:
        """The verified households a 100-day card's figure counts (day 0, graduated, now): the
        referrals service lists them as it counts them, the registry names their heads."""
        signed = await web.signed_in(request, LIST_ROLES)
        if isinstance(signed, Response):
            return signed
        kelompok = kelompok if kelompok in COHORTS else "kini"
        cohort, heading = COHORTS[kelompok]
        kelurahan = kelurahan or "kota"
        params: dict[str, Any] = {"kelurahan": kelurahan, "cohort": cohort, "limit": PAGE}
        if setelah:
            params["after"] = setelah
        try:
            found = await web.backend.get(
                "referrals", "/reports/hundred-days/households", signed.token, params
            )
            ids = [h["household_id"] for h in found["items"]]
            named: dict[str, Any] = {"items": []}
            if ids:
                asked = {"household_id": ids, "limit": PAGE}
                named = await web.backend.get("registry", "/households", signed.token, asked)
        except BackendError as error:
            return web.trouble(request, error, signed.principal)
        heads = {h["id"]: h for h in named["items"]}
        # One row per household counted, named or not: the list must add up to its figure.
        items = [heads.get(h["household_id"]) or unnamed(h) for h in found["items"]]
        after = found["next_after"]
        following = {"kelurahan": kelurahan, "kelompok": kelompok, "setelah": after}
        return await web.view(
            request, "daftar_rumah_tangga.html", signed, items=items, kelurahan=kelurahan,
            heading=f"{heading} — {card_name(kelurahan)}", cohort=heading.lower(),
            more=after is not None, next_url=after and f"/daftar-100-hari?{urlencode(following)}",
        )  # fmt: skip

    return router


def unnamed(listed: dict[str, Any]) -> dict[str, Any]:
    """A row for a household the referrals service counts but the registry did not name to
    this user (gone from it since, say): its id and address as the referrals service has it."""
    return {
        "id": listed["household_id"],
        "head_name": None,
        "address": None,
        "rw": listed["rw"],
        "rt": listed["rt"],
        "kelurahan_name": card_name(listed["kelurahan_code"]),
    }
