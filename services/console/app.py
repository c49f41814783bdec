"""The console's web app: sign-in, each role's home, the coordinators' 100-day dashboard with
its live updates. Server-rendered (Jinja2); its CSS and one small script are served from here."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import httpx
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from services.console import dashboard, session
from services.console.backend import Backend, BackendError
from sinergi import auth
from sinergi.auth import Principal, Role
from sinergi.config import Settings

HERE = Path(__file__).parent
SESSION_HOURS = 8
ROLE_LABELS = {
    Role.RT: "Ketua RT",
    Role.KADER: "Kader Posyandu",
    Role.KELURAHAN: "Kelurahan",
    Role.KECAMATAN: "Kecamatan",
    Role.AGENCY_STAFF: "Staf instansi",
    Role.AGENCY_ADMIN: "Pimpinan instansi",
    Role.COORDINATOR: "Koordinator",
    Role.AUDITOR: "Auditor",
}
DASHBOARD_ROLES = frozenset({Role.COORDINATOR, Role.AUDITOR})


def create_console_app(settings: Settings) -> FastAPI:
    backend = Backend(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await backend.aclose()

    app = FastAPI(title="Sinergi Konsol", lifespan=lifespan, docs_url=None, redoc_url=None)
    verifier = auth.verifier_for(settings)
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals["role_labels"] = ROLE_LABELS
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    # Sign-in with the built-in issuer is for the embedded system only; a city deployment signs
    # in at its OIDC provider (not built yet: the console then only accepts its tokens).
    built_in = settings.auth_key_file if not settings.auth_jwks_url else None

    def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, context, status_code=status)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> Response:
        signed = await session.current(request, verifier)
        if signed is None:
            return RedirectResponse("/masuk", status_code=303)
        if signed.principal.role in DASHBOARD_ROLES:
            return RedirectResponse("/dasbor", status_code=303)
        return page(request, "beranda.html", user=signed.principal)

    @app.get("/masuk", response_class=HTMLResponse)
    async def sign_in_form(request: Request) -> Response:
        return page(request, "masuk.html", built_in=built_in is not None, error=None, user=None)

    @app.post("/masuk", response_class=HTMLResponse)
    async def sign_in(
        request: Request,
        role: Annotated[str, Form()],
        name: Annotated[str, Form(min_length=1, max_length=80)],
        kelurahan: Annotated[str, Form()] = "",
        rw: Annotated[str, Form()] = "",
        rt: Annotated[str, Form()] = "",
        agency: Annotated[str, Form()] = "",
    ) -> Response:
        if built_in is None:
            return page(request, "masuk.html", 400, built_in=False, error=None, user=None)
        from sinergi.issuer import issue

        try:
            principal = Principal.of(
                {
                    "sub": name.strip(),
                    "role": role,
                    "kelurahan": kelurahan or None,
                    "rw": int(rw) if rw else None,
                    "rt": int(rt) if rt else None,
                    "agency": agency or None,
                }
            )
            token = issue(built_in, principal, lifetime_seconds=SESSION_HOURS * 3600)
        except ValueError as error:
            return page(request, "masuk.html", 422, built_in=True, error=str(error), user=None)
        answer = RedirectResponse("/", status_code=303)
        secure = settings.environment == "production"
        session.keep(answer, token, secure=secure, max_age=SESSION_HOURS * 3600)
        return answer

    @app.post("/keluar")
    async def sign_out() -> Response:
        answer = RedirectResponse("/masuk", status_code=303)
        session.forget(answer)
        return answer

    async def coordinator(request: Request) -> session.Session | Response:
        signed = await session.current(request, verifier)
        if signed is None:
            return RedirectResponse("/masuk", status_code=303)
        if signed.principal.role not in DASHBOARD_ROLES:
            return page(request, "ditolak.html", 403, user=signed.principal)
        return signed

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
            "user": signed.principal,
        }

    @app.get("/dasbor", response_class=HTMLResponse)
    async def dashboard_page(request: Request) -> Response:
        signed = await coordinator(request)
        if isinstance(signed, Response):
            return signed
        try:
            context = await panel_context(signed)
        except BackendError as error:
            return page(request, "gangguan.html", 502, error=error, user=signed.principal)
        return page(request, "dasbor.html", **context)

    @app.get("/dasbor/panel", response_class=HTMLResponse)
    async def dashboard_panel(request: Request) -> Response:
        signed = await coordinator(request)
        if isinstance(signed, Response):
            return signed
        try:
            context = await panel_context(signed)
        except BackendError as error:
            return page(request, "gangguan.html", 502, error=error, user=signed.principal)
        return page(request, "_panel.html", **context)

    @app.get("/dasbor/langsung")
    async def dashboard_live(request: Request) -> Response:
        """The referrals service's "timeline changed" stream, passed on to the browser."""
        signed = await coordinator(request)
        if isinstance(signed, Response):
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

    return app
