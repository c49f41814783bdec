"""The coordinators' "100 hari" dashboard: the page, its panel, and its live stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from services.console import dashboard, session
from services.console.backend import BackendError
from services.console.home_pages import DASHBOARD_ROLES
from services.console.web import Web

PANEL = "_panel.html"


def routes(web: Web) -> APIRouter:
    router = APIRouter()
    backend = web.backend

    async def panel_context(signed: session.Session) -> dict[str, Any]:
        report, directory = await asyncio.gather(
            backend.get("referrals", "/reports/dashboard", signed.token),
            backend.get("referrals", "/directory", signed.token),
        )
        agencies = dashboard.agencies(report, directory)
        return {
            "report": report,
            "kelurahan": dashboard.kelurahan(report),
            "agencies": agencies,
            "overdue": dashboard.overdue_total(agencies),
        }

    async def render(request: Request, template: str) -> Response:
        signed = await web.signed_in(request, DASHBOARD_ROLES)
        if isinstance(signed, Response):
            return signed
        try:
            context = await panel_context(signed)
        except BackendError as error:
            return web.trouble(request, error, signed.principal)
        if template == PANEL:  # the live re-read: no header, no inbox count
            return web.page(request, template, **context)
        return await web.view(request, template, signed, **context)

    @router.get("/dasbor", response_class=HTMLResponse)
    async def dashboard_page(request: Request) -> Response:
        return await render(request, "dasbor.html")

    @router.get("/dasbor/panel", response_class=HTMLResponse)
    async def dashboard_panel(request: Request) -> Response:
        return await render(request, PANEL)

    @router.get("/dasbor/langsung")
    async def dashboard_live(request: Request) -> Response:
        """The referrals service's "timeline changed" stream, passed on to the browser."""
        signed = await session.current(request, web.verifier)
        if signed is None or signed.principal.role not in DASHBOARD_ROLES:
            return Response(status_code=401)

        async def relay() -> AsyncIterator[str]:
            try:
                async for line in backend.lines("referrals", "/timeline/changes", signed.token):
                    yield line + "\n"
            except (BackendError, httpx.HTTPError):  # the browser reconnects and re-reads
                return

        return StreamingResponse(
            relay(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return router
