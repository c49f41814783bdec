"""Sign-in, sign-out and each role's home."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console import oidc, session
from services.console.web import ROLE_LABELS, Web
from sinergi.auth import AGENCY_ROLES, Principal, Role, Unauthenticated

SESSION_HOURS = 8
DASHBOARD_ROLES = frozenset({Role.COORDINATOR, Role.AUDITOR})


def routes(web: Web) -> APIRouter:
    router = APIRouter()
    settings = web.settings
    secure = settings.environment == "production"
    # Sign-in with the built-in issuer is for the embedded system only; a city deployment signs
    # in at its OIDC provider, whose tokens the services check.
    built_in = settings.auth_key_file if not settings.auth_jwks_url else None
    provider = web.provider

    def sign_in_page(
        request: Request, status_code: int = 200, error: str | None = None
    ) -> Response:
        return web.page(
            request, "masuk.html", status_code,
            built_in=built_in is not None, oidc=provider is not None, error=error,
        )  # fmt: skip

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
        return sign_in_page(request)

    @router.get("/masuk/oidc")
    async def sign_in_at_provider(request: Request) -> Response:
        if provider is None:
            return sign_in_page(request, 404)
        try:
            url, pending = await provider.start(request)
        except oidc.SignInFailed as error:
            return sign_in_page(request, 502, str(error))
        answer = RedirectResponse(url, status_code=303)
        oidc.keep_pending(answer, pending, secure=secure)
        return answer

    @router.get(oidc.CALLBACK_PATH, response_class=HTMLResponse)
    async def signed_in_at_provider(request: Request) -> Response:
        if provider is None:
            return sign_in_page(request, 404)
        pending = oidc.Pending.of(request.cookies.get(oidc.PENDING_COOKIE))
        try:
            tokens = await provider.finish(request, pending)
            await web.verifier.verify(tokens.access_token)  # as the services will check it
        except oidc.SignInFailed as error:
            answer = sign_in_page(request, 400, str(error))
        except Unauthenticated as error:
            why = f"akun ini belum bisa memakai Sinergi (this account cannot use Sinergi): {error}"
            answer = sign_in_page(request, 403, why)
        else:
            answer = web.page(request, "masuk_lanjut.html")
            oidc.keep_tokens(answer, tokens, secure=secure)
        oidc.forget_pending(answer)
        return answer

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
            return sign_in_page(request, 400)
        if role not in {r.value for r in ROLE_LABELS}:  # people's roles: never `system`
            return sign_in_page(request, 422, f"peran tidak dikenal: {role} (unknown role)")
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
            return sign_in_page(request, 422, str(error))
        answer = RedirectResponse("/", status_code=303)
        session.keep(answer, token, secure=secure, max_age=SESSION_HOURS * 3600)
        return answer

    @router.post("/keluar")
    async def sign_out(request: Request) -> Response:
        # Signed out at the provider too, where it offers that: else its session would sign
        # the next person at this browser straight back in.
        at_provider = provider and await provider.sign_out_url(request)
        answer = RedirectResponse(at_provider or "/masuk", status_code=303)
        session.forget(answer)
        return answer

    return router
