"""The contribution report: per RT and per kader over a period (households registered and
verified, visits, measurements), on the page and as XLSX for the city's incentive payments."""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from openpyxl import Workbook

from services.console import labels
from services.console.backend import BackendError
from services.console.session import Session
from services.console.web import Web
from sinergi.auth import Role

REPORT_ROLES = frozenset({Role.COORDINATOR, Role.KECAMATAN, Role.KELURAHAN})
RT_COLUMNS = ("Kelurahan", "RW", "RT", "Terdaftar", "Terverifikasi", "Kunjungan", "Pengukuran")
PERSON_COLUMNS = ("Pencatat", "Kunjungan", "Pengukuran")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def period(dari: date | None, sampai: date | None) -> tuple[date, date]:
    """The last 30 days unless asked otherwise."""
    end = sampai or labels.today()
    return (dari or end - timedelta(days=30)), end


def workbook(report: dict[str, Any]) -> bytes:
    book = Workbook()
    rts = book.active
    assert rts is not None  # a new workbook has its first sheet
    rts.title = "Per RT"
    rts.append([f"Kontribusi {report['from']} s.d. {report['to']}"])
    rts.append(list(RT_COLUMNS))
    for r in report["per_rt"]:
        rts.append([r["kelurahan_code"], r["rw"], r["rt"], r["registered"], r["verified"],
                    r["visits"], r["measurements"]])  # fmt: skip
    people = book.create_sheet("Per kader")
    people.append(list(PERSON_COLUMNS))
    for p in report["per_person"]:
        people.append([p["recorded_by"], p["visits"], p["measurements"]])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def routes(web: Web) -> APIRouter:
    router = APIRouter()

    async def report(
        request: Request, dari: date | None, sampai: date | None
    ) -> tuple[Session, dict[str, Any]] | Response:
        signed = await web.signed_in(request, REPORT_ROLES)
        if isinstance(signed, Response):
            return signed
        start, end = period(dari, sampai)
        try:
            found = await web.backend.get(
                "referrals", "/reports/contributions", signed.token,
                {"from": start.isoformat(), "to": end.isoformat()},
            )  # fmt: skip
        except BackendError as error:
            return web.trouble(request, error, signed.principal)
        return signed, found

    @router.get("/laporan/kontribusi", response_class=HTMLResponse)
    async def contributions(
        request: Request, dari: date | None = None, sampai: date | None = None
    ) -> Response:
        found = await report(request, dari, sampai)
        if isinstance(found, Response):
            return found
        signed, r = found
        return await web.view(request, "kontribusi.html", signed, r=r)

    @router.get("/laporan/kontribusi.xlsx")
    async def contributions_xlsx(
        request: Request, dari: date | None = None, sampai: date | None = None
    ) -> Response:
        found = await report(request, dari, sampai)
        if isinstance(found, Response):
            return found
        _, r = found
        name = f"kontribusi-{r['from']}-{r['to']}.xlsx"
        return Response(
            workbook(r),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    return router
