"""The lists behind the dashboard's numbers: referrals by agency, status, lateness and
escalation rung; the households behind each 100-day card's figures and behind the stunted
children found and referred."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.console.agency_pages import age_days
from services.console.backend import BackendError
from services.console.dashboard import card_name, rung_name
from services.console.labels import STATUS_LABELS
from services.console.session import Session
from services.console.web import Web
from sinergi.auth import AREA_READERS, Role

LIST_ROLES = frozenset({Role.COORDINATOR, Role.KECAMATAN, Role.KELURAHAN})
# A 100-day card's figures, by the console's word: the referrals service's cohort, and what the
# list's heading calls its households.
COHORTS = {
    "hari0": ("at_start", "Miskin ekstrem pada hari ke-0"),
    "lulus": ("graduated", "Lulus dari miskin ekstrem"),
    "kini": ("now", "Miskin ekstrem kini"),
}
PAGE = 50  # households a page: their ids go to the registry in one request's query string
# The stunting figures' lists, by the console's word: the referrals service's `referred`, and
# the list's heading.
REFERRED = {
    "": (None, "Anak stunting ditemukan"),
    "ya": (True, "Anak stunting yang dirujuk"),
    "tidak": (False, "Anak stunting yang belum dirujuk"),
}
# Health data: the roles the referrals service's list lets in that may read it (an agency's
# head, of a health agency: the service refuses another, and the console shows why).
STUNTING_ROLES = frozenset({Role.KELURAHAN, Role.AGENCY_ADMIN})
# City roles that see the dashboard but not health data: the figures per kelurahan instead.
COUNTS_ONLY = frozenset({Role.COORDINATOR, Role.AUDITOR})
UNKNOWN = "belum_tercatat"  # the referrals service's kelurahan of a household not yet known
HEALTH_DATA = (
    "Anak stunting adalah data kesehatan: hanya untuk kelurahan dan instansi kesehatan. "
    "(Stunted children are health data: for the kelurahan and health agencies only.)"
)


def routes(web: Web) -> APIRouter:
    router = APIRouter()

    @router.get("/daftar-rujukan", response_class=HTMLResponse)
    async def referral_list(
        request: Request,
        agency: str = "",
        status: str = "",
        overdue: bool = False,
        tingkat: int = 0,
    ) -> Response:
        """Referrals by agency and status, or overdue ones (`tingkat`: at that escalation
        level's rung of the ladder, as the dashboard counts them)."""
        signed = await web.signed_in(request, LIST_ROLES)
        if isinstance(signed, Response):
            return signed
        params: dict[str, str | int | bool] = {"limit": 200}
        if agency:
            params["agency"] = agency
        if status in STATUS_LABELS:
            params["status"] = status
        overdue = overdue or tingkat > 0  # a rung counts overdue referrals only
        if overdue:
            params["overdue"] = True
        if tingkat > 0:
            params["escalation_level"] = tingkat
        rung = None
        try:
            found = await web.backend.get("referrals", "/referrals", signed.token, params)
            if tingkat > 0:
                known = await web.backend.get("referrals", "/directory", signed.token)
                rung = rung_name(known["ladder"], tingkat)
        except BackendError as error:
            return web.trouble(request, error, signed.principal)
        now = datetime.now(UTC)
        items = [i | {"age_days": age_days(i["requested_at"], now)} for i in found["items"]]
        return await web.view(
            request, "daftar_rujukan.html", signed, items=items, agency=agency,
            status=status if status in STATUS_LABELS else "", overdue=overdue, tingkat=tingkat,
            rung=rung, more=found["next_after"] is not None,
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
            rows, after = await named_page(web, signed, "/reports/hundred-days/households", params)
        except BackendError as error:
            return web.trouble(request, error, signed.principal)
        items = [row for _, row in rows]
        following = {"kelurahan": kelurahan, "kelompok": kelompok, "setelah": after}
        return await web.view(
            request, "daftar_rumah_tangga.html", signed, items=items, kelurahan=kelurahan,
            heading=f"{heading} — {card_name(kelurahan)}", cohort=heading.lower(),
            more=after is not None, next_url=after and f"/daftar-100-hari?{urlencode(following)}",
        )  # fmt: skip

    @router.get("/daftar-stunting", response_class=HTMLResponse)
    async def stunting_list(request: Request, dirujuk: str = "", setelah: str = "") -> Response:
        """The stunted children the dashboard counts (found; referred or not), each in its
        household: the referrals service lists them as it counts them, the registry names
        their heads."""
        signed = await web.signed_in(request, STUNTING_ROLES | COUNTS_ONLY, why=HEALTH_DATA)
        if isinstance(signed, Response):
            return signed
        dirujuk = dirujuk if dirujuk in REFERRED else ""
        referred, heading = REFERRED[dirujuk]
        if signed.principal.role in COUNTS_ONLY:
            return await stunting_counts(request, signed, heading)
        params: dict[str, Any] = {"limit": PAGE}
        if referred is not None:
            params["referred"] = referred
        if setelah:
            params["after"] = setelah
        try:
            rows, after = await named_page(web, signed, "/reports/stunting/children", params)
        except BackendError as error:
            return web.trouble(request, error, signed.principal)
        # One row per child counted (two in one household: two rows).
        items = [row | {"member_id": c["member_id"], "referred": c["referred"]} for c, row in rows]
        following = {"dirujuk": dirujuk, "setelah": after}
        return await web.view(
            request, "daftar_stunting.html", signed, items=items, heading=heading,
            dirujuk=dirujuk, filters=[(key, label) for key, (_, label) in REFERRED.items()],
            columns=4, more=after is not None,
            next_url=after and f"/daftar-stunting?{urlencode(following)}",
        )  # fmt: skip

    async def stunting_counts(request: Request, signed: Session, heading: str) -> Response:
        """What the stunting figures break down to for a city role that may not list the
        children: per kelurahan, from the same report as the dashboard."""
        try:
            report = await web.backend.get("referrals", "/reports/dashboard", signed.token)
        except BackendError as error:
            return web.trouble(request, error, signed.principal)
        counts = report["stunting"]["by_kelurahan"]
        rows = [
            (card_name(code) if code != UNKNOWN else "Belum tercatat", c["found"], c["referred"])
            for code, c in counts.items()
        ]
        rows.sort(key=lambda row: (-row[1], row[0]))
        return await web.view(
            request, "stunting_per_kelurahan.html", signed, rows=rows,
            heading=f"{heading} — per kelurahan", stunting=report["stunting"],
        )  # fmt: skip

    return router


async def named_page(
    web: Web, signed: Session, path: str, params: dict[str, Any]
) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], str | None]:
    """A page of one of the referrals service's lists of households, each item beside its
    household's row, named or not (a list must add up to the figure it opens); and the
    `after` of the next page."""
    found = await web.backend.get("referrals", path, signed.token, params)
    heads = await heads_of(web, signed, [item["household_id"] for item in found["items"]])
    rows = [(item, heads.get(item["household_id"]) or unnamed(item)) for item in found["items"]]
    return rows, found["next_after"]


async def heads_of(web: Web, signed: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The registry's rows for a page of another list's households, by id, as this user may
    read them; none for a role the registry's list refuses (an agency: its rows carry what
    the referrals service has)."""
    if not ids or signed.principal.role not in AREA_READERS:
        return {}
    asked = {"household_id": list(dict.fromkeys(ids)), "limit": PAGE}
    named = await web.backend.get("registry", "/households", signed.token, asked)
    return {h["id"]: h for h in named["items"]}


def unnamed(listed: dict[str, Any]) -> dict[str, Any]:
    """A row for a household the referrals service counts but the registry did not name to
    this user (gone from it since, say, or not the registry's to show this role): its id and
    place as the referrals service has it."""
    return {
        "id": listed["household_id"],
        "head_name": None,
        "address": None,
        "rw": listed.get("rw"),
        "rt": listed.get("rt"),
        "kelurahan_name": card_name(listed["kelurahan_code"]),
    }
