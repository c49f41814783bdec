"""An RT's spreadsheet (XLSX or CSV, one row per member) uploaded to the registry's bulk
import, and its row report: what was created, and each rejected row with its column and rule.

The page's script (`static/unggah.js`) keeps the chosen file on the phone until the console
has taken it and asks for JSON; without the script the form posts and is redirected."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from services.console.backend import BackendError
from services.console.web import Web
from sinergi.auth import Role

UPLOAD_ROLES = frozenset({Role.RT, Role.KELURAHAN})  # the registry's field roles


def routes(web: Web) -> APIRouter:
    router = APIRouter()
    backend = web.backend

    @router.get("/lapangan/unggah", response_class=HTMLResponse)
    async def upload_form(request: Request) -> Response:
        signed = await web.signed_in(request, UPLOAD_ROLES)
        if isinstance(signed, Response):
            return signed
        return await web.view(request, "unggah.html", signed, error=None)

    @router.post("/lapangan/unggah", response_class=HTMLResponse)
    async def upload(request: Request, file: Annotated[UploadFile, File()]) -> Response:
        script = "application/json" in request.headers.get("accept", "")
        signed = await (
            web.signed_in_for_script(request, UPLOAD_ROLES)
            if script
            else web.signed_in(request, UPLOAD_ROLES)
        )
        if isinstance(signed, Response):
            return signed
        try:
            done = await backend.upload(
                "registry", "/imports", signed.token, file.filename or "unggahan", file.file
            )
        except BackendError as error:
            if script:
                return JSONResponse({"pesan": error.pesan}, status_code=error.status)
            return await web.view(request, "unggah.html", signed, error.status, error=error.pesan)
        report = f"/lapangan/impor/{done['id']}"
        if script:
            return JSONResponse({"laporan": report})
        return RedirectResponse(report, status_code=303)

    @router.get("/lapangan/impor/{import_id}", response_class=HTMLResponse)
    async def report(request: Request, import_id: UUID) -> Response:
        signed = await web.signed_in(request, UPLOAD_ROLES)
        if isinstance(signed, Response):
            return signed
        try:
            found = await backend.get("registry", f"/imports/{import_id}", signed.token)
        except BackendError as error:
            return web.trouble(request, error, signed.principal)
        return await web.view(request, "impor.html", signed, r=found)

    @router.get("/lapangan/impor/{import_id}/laporan.csv")
    async def report_csv(request: Request, import_id: UUID) -> Response:
        signed = await web.signed_in(request, UPLOAD_ROLES)
        if isinstance(signed, Response):
            return signed
        try:
            text = await backend.text("registry", f"/imports/{import_id}/report.csv", signed.token)
        except BackendError as error:
            return web.trouble(request, error, signed.principal)
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="laporan-{import_id}.csv"'},
        )

    return router
