"""Sign-in, sign-out and each role's home."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console import session
from services.console.web import ROLE_LABELS, Web
from sinergi.auth import AGENCY_ROLES, Principal, Role

SESSION_HOURS = 8
DASHBOARD_ROLES = frozenset({Role.COORDINATOR, Role.AUDITOR})


def routes(web: Web) -> APIRouter:
    router = APIRouter()
    settings = web.settings
    # Sign-in with the built-in issuer is for the embedded system only; a city deployment signs
    # in at its OIDC provider (not built yet: the console then only accepts its tokens).
    built_in = settings.auth_key_file if not settings.auth_jwks_url else None

    @router.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", include_in_schema=False)
    async def readyz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> Response:
        signed = await web.signed_in(request)
        if isinstance(signed, Response):
            return signed
        if signed.principal.role in DASHBOARD_ROLES:
            return RedirectResponse("/dasbor", status_code=303)
        if signed.principal.role in AGENCY_ROLES:
            return RedirectResponse("/antrean", status_code=303)
        if signed.principal.role is Role.KELURAHAN:
            return RedirectResponse("/meja", status_code=303)
        if signed.principal.role in (Role.RT, Role.KADER):
            return RedirectResponse("/lapangan", status_code=303)
        return await web.view(request, "beranda.html", signed)

    @router.get("/masuk", response_class=HTMLResponse)
    async def sign_in_form(request: Request) -> Response:
        return web.page(request, "masuk.html", built_in=built_in is not None, error=None)

    @router.post("/masuk", response_class=HTMLResponse)
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
            return web.page(request, "masuk.html", 400, built_in=False, error=None)
        if role not in {r.value for r in ROLE_LABELS}:  # people's roles: never `system`
            error = f"peran tidak dikenal: {role} (unknown role)"
            return web.page(request, "masuk.html", 422, built_in=True, error=error)
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
            return web.page(request, "masuk.html", 422, built_in=True, error=str(error))
        answer = RedirectResponse("/", status_code=303)
        secure = settings.environment == "production"
        session.keep(answer, token, secure=secure, max_age=SESSION_HOURS * 3600)
        return answer

    @router.post("/keluar")
    async def sign_out() -> Response:
        answer = RedirectResponse("/masuk", status_code=303)
        session.forget(answer)
        return answer

    return router
