"""The kelurahan desk: households the RTs submitted, waiting for verification (verify, or
return to the RT with a note), those returned, and suspected duplicates side by side (merge,
or not a duplicate)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.backend import BackendError
from services.console.session import Session
from services.console.web import Web
from sinergi.auth import Role

DESK_ROLES = frozenset({Role.KELURAHAN})
TABS = {"submitted": "Menunggu verifikasi", "returned": "Dikembalikan ke RT"}


def routes(web: Web) -> APIRouter:
    router = APIRouter()
    backend = web.backend

    async def desk(
        request: Request, signed: Session, tab: str, error: str | None = None, status: int = 200
    ) -> Response:
        try:
            if tab == "ganda":
                found = await backend.get(
                    "registry", "/duplicates", signed.token, {"state": "open", "limit": 50}
                )
            else:
                found = await backend.get(
                    "registry", "/households", signed.token, {"verification": tab, "limit": 100}
                )
        except BackendError as failed:
            return web.trouble(request, failed, signed.principal)
        return await web.view(
            request, "meja.html", signed, status, tab=tab, tabs=TABS, items=found["items"],
            error=error,
        )  # fmt: skip

    @router.get("/meja", response_class=HTMLResponse)
    async def desk_page(request: Request, tab: str = "submitted") -> Response:
        signed = await web.signed_in(request, DESK_ROLES)
        if isinstance(signed, Response):
            return signed
        return await desk(request, signed, tab if tab in (*TABS, "ganda") else "submitted")

    @router.post("/meja/rumah-tangga/{household_id}/{step}", response_class=HTMLResponse)
    async def verification(
        request: Request,
        household_id: UUID,
        step: str,
        note: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        signed = await web.signed_in(request, DESK_ROLES)
        if isinstance(signed, Response):
            return signed
        if step not in ("verify", "return"):
            return await desk(request, signed, "submitted", "langkah tidak dikenal", 404)
        body = {"note": note} if step == "return" else {}
        try:
            await backend.post("registry", f"/households/{household_id}/{step}", signed.token, body)
        except BackendError as error:
            return await desk(request, signed, "submitted", error.pesan, error.status)
        return RedirectResponse("/meja?tab=submitted", status_code=303)

    @router.post("/meja/ganda/{candidate_id}", response_class=HTMLResponse)
    async def decide(
        request: Request,
        candidate_id: UUID,
        decision: Annotated[str, Form()],
        note: Annotated[str, Form(max_length=2000)] = "",
        keep_member_id: Annotated[str, Form()] = "",
    ) -> Response:
        signed = await web.signed_in(request, DESK_ROLES)
        if isinstance(signed, Response):
            return signed
        body = {"decision": decision, "note": note, "officer": signed.principal.subject}
        if decision == "merge":
            body["keep_member_id"] = keep_member_id
        try:
            await backend.post(
                "registry", f"/duplicates/{candidate_id}/decision", signed.token, body
            )
        except BackendError as error:
            return await desk(request, signed, "ganda", error.pesan, error.status)
        return RedirectResponse("/meja?tab=ganda", status_code=303)

    return router
