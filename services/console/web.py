"""What every console page needs: templates, the signed-in user, the services' APIs."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from services.console import labels, oidc, session
from services.console.backend import Backend, BackendError
from sinergi.auth import AGENCY_ROLES, CITY_ROLES, Principal, Role, Verifier
from sinergi.config import Settings

HERE = Path(__file__).parent
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


def recipient_of(principal: Principal) -> str:
    """The inbox a role reads: its office's, its RT's, the city's, or the user's own."""
    if principal.role in AGENCY_ROLES or principal.role is Role.KELURAHAN:
        return principal.actor
    if principal.role is Role.RT:
        return f"rt:{principal.kelurahan}:{principal.rw}:{principal.rt}"
    if principal.role in CITY_ROLES:
        return "city"
    return f"user:{principal.subject}"


@dataclass(frozen=True)
class Web:
    settings: Settings
    verifier: Verifier
    backend: Backend
    templates: Jinja2Templates
    provider: oidc.Provider | None  # the city's OIDC provider people sign in at, if any

    @classmethod
    def of(cls, settings: Settings, verifier: Verifier, backend: Backend) -> Web:
        templates = Jinja2Templates(directory=HERE / "templates")
        templates.env.globals["role_labels"] = ROLE_LABELS
        templates.env.filters |= {
            "waktu": labels.local_time,
            "status_rujukan": labels.label_in(labels.STATUS_LABELS),
            "langkah": labels.label_in(labels.ACTION_LABELS),
            "verifikasi": labels.label_in(labels.VERIFICATION),
            "kemiskinan": labels.poverty,
        }
        signs_in_at_provider = settings.auth_jwks_url and settings.console_oidc_client_id
        provider = oidc.Provider(settings) if signs_in_at_provider else None
        return cls(settings, verifier, backend, templates, provider)

    def page(
        self, request: Request, name: str, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        context.setdefault("user", None)
        return self.templates.TemplateResponse(request, name, context, status_code=status_code)

    def trouble(
        self, request: Request, error: BackendError, user: Principal, status_code: int = 502
    ) -> HTMLResponse:
        """The page instead of one whose service did not answer as it should; a service that
        refused this user (403) is the refusal page, with the service's reason."""
        if error.status == 403:
            return self.page(request, "ditolak.html", 403, user=user, why=error.pesan)
        return self.page(request, "gangguan.html", status_code, error=error, user=user)

    async def view(
        self,
        request: Request,
        name: str,
        signed: session.Session,
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        """A page for the signed-in user, with the unread count of their inbox in the header
        (left out when the notifications service does not answer: the page still shows)."""
        try:
            inbox = await self.backend.get(
                "notifications", "/inbox", signed.token,
                {"recipient": recipient_of(signed.principal), "limit": 1},
            )  # fmt: skip
            context["header_unread"] = int(inbox["unread"])
        except BackendError:
            context["header_unread"] = None
        return self.page(request, name, status_code, user=signed.principal, **context)

    async def signed_in(
        self, request: Request, roles: Collection[Role] | None = None, why: str | None = None
    ) -> session.Session | Response:
        """The user, or the answer instead of the page: to sign in, or not for this role
        (`why`, said on the refusal)."""
        signed = await session.current(request, self.verifier)
        if signed is None:
            return RedirectResponse("/masuk", status_code=303)
        if roles is not None and signed.principal.role not in roles:
            return self.page(request, "ditolak.html", 403, user=signed.principal, why=why)
        return signed

    async def signed_in_for_script(
        self, request: Request, roles: Collection[Role]
    ) -> session.Session | Response:
        """As `signed_in`, answered in JSON for a page's script that sends what waits on the
        phone: 403 for another role (refused for good), 401 when nobody is signed in (the
        session ran out: the phone keeps it until someone is)."""
        signed = await self.signed_in(request, roles)
        if not isinstance(signed, Response):
            return signed
        if signed.status_code == 403:
            return JSONResponse({"pesan": "bukan untuk peran Anda"}, status_code=403)
        return JSONResponse({"pesan": "masuk dulu (sign in first)"}, status_code=401)
