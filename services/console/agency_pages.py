"""The agencies' work queue: referrals addressed to the agency by state and age, and each
referral's page with the steps its staff may take now (with the reason or outcome they need)
and a hand-off to another agency."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console import labels
from services.console.backend import BackendError
from services.console.labels import STATUS_LABELS
from services.console.web import Web
from sinergi.auth import AGENCY_ROLES, Role

ACTIONS = {  # the referrals service's actions, as staff read them; which need what
    "receive": ("Terima rujukan", None),
    "accept": ("Setujui", None),
    "reject": ("Tolak", "reason"),
    "start": ("Mulai layanan", None),
    "hold": ("Tunda", "reason"),
    "resume": ("Lanjutkan", None),
    "complete": ("Selesaikan", "outcome"),
    "fail": ("Gagal dilayani", "reason"),
    "cancel": ("Batalkan", "reason"),
    "mark-error": ("Tandai salah input", "reason"),
}
# Who opens a referral's page: its agency, and the referrer's side (the kelurahan, the
# coordinators); the referrals service says what each may do there.
REFERRAL_READERS = AGENCY_ROLES | {Role.KELURAHAN, Role.COORDINATOR}
TABS = ("requested", "received", "accepted", "in-progress", "on-hold", "completed", "rejected")


def age_days(moment: str, now: datetime) -> int:
    return max(0, (now - datetime.fromisoformat(moment.replace("Z", "+00:00"))).days)


def routes(web: Web) -> APIRouter:
    router = APIRouter()
    backend = web.backend

    @router.get("/antrean", response_class=HTMLResponse)
    async def queue(request: Request, status: str = "requested") -> Response:
        signed = await web.signed_in(request, AGENCY_ROLES)
        if isinstance(signed, Response):
            return signed
        status = status if status in TABS else "requested"
        agency = signed.principal.agency
        try:
            page = await backend.get(
                "referrals",
                "/referrals",
                signed.token,
                {"agency": agency, "status": status, "limit": 200},
            )
        except BackendError as error:
            return web.trouble(request, error, signed.principal)
        now = datetime.now(UTC)
        items = [item | {"age_days": age_days(item["requested_at"], now)} for item in page["items"]]
        return await web.view(
            request,
            "antrean.html",
            signed,
            items=items,
            status=status,
            tabs=[(tab, STATUS_LABELS[tab]) for tab in TABS],
            more=page["next_after"] is not None,
        )

    async def referral_page(
        request: Request, referral_id: UUID, error: str | None = None, status_code: int = 200
    ) -> Response:
        signed = await web.signed_in(request, REFERRAL_READERS)
        if isinstance(signed, Response):
            return signed
        try:
            referral = await backend.get("referrals", f"/referrals/{referral_id}", signed.token)
            directory = await backend.get("referrals", "/directory", signed.token)
        except BackendError as failed:
            return web.trouble(request, failed, signed.principal)
        others = [p for p in directory["programmes"] if p["agency"] != referral["agency"]]
        return await web.view(
            request,
            "rujukan.html",
            signed,
            status_code,
            r=referral,
            status_label=STATUS_LABELS.get(referral["status"], referral["status"]),
            actions=[(a, *ACTIONS[a]) for a in referral["allowed_actions"] if a in ACTIONS],
            programmes=others,
            error=error,
            today=labels.today().isoformat(),
        )

    @router.get("/rujukan/{referral_id}", response_class=HTMLResponse)
    async def referral(request: Request, referral_id: UUID) -> Response:
        return await referral_page(request, referral_id)

    @router.post("/rujukan/{referral_id}/serahkan", response_class=HTMLResponse)
    async def hand_on(
        request: Request,
        referral_id: UUID,
        household_id: Annotated[UUID, Form()],
        programme: Annotated[str, Form()],
        note: Annotated[str, Form(max_length=2000)] = "",
    ) -> Response:
        signed = await web.signed_in(request, REFERRAL_READERS)
        if isinstance(signed, Response):
            return signed
        body = {"household_id": str(household_id), "programme": programme,
                "parent_id": str(referral_id), "note": note or None}  # fmt: skip
        try:
            await backend.post("referrals", "/referrals", signed.token, body)
        except BackendError as error:
            return await referral_page(request, referral_id, error.pesan, error.status)
        return RedirectResponse(f"/rujukan/{referral_id}?diserahkan=1", status_code=303)

    @router.post("/rujukan/{referral_id}/{action}", response_class=HTMLResponse)
    async def step(
        request: Request,
        referral_id: UUID,
        action: str,
        version: Annotated[int, Form()],
        reason: Annotated[str, Form(max_length=2000)] = "",
        delivered: Annotated[str, Form(max_length=500)] = "",
        delivered_on: Annotated[str, Form()] = "",
        amount_idr: Annotated[str, Form()] = "",
        enrolment: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        signed = await web.signed_in(request, REFERRAL_READERS)
        if isinstance(signed, Response):
            return signed
        if action not in ACTIONS:
            return await referral_page(request, referral_id, "langkah tidak dikenal", 404)
        body: dict[str, Any] = {}
        if reason:
            body["reason"] = reason
        if action == "complete":
            body["outcome"] = {
                "delivered": delivered,
                "delivered_on": delivered_on or None,
                "amount_idr": int(amount_idr) if amount_idr.strip().isdigit() else None,
                "enrolment": enrolment or None,
            }
        try:
            await backend.post(
                "referrals", f"/referrals/{referral_id}/{action}", signed.token, body,
                version=version,
            )  # fmt: skip
        except BackendError as error:
            return await referral_page(request, referral_id, error.pesan, error.status)
        return RedirectResponse(f"/rujukan/{referral_id}", status_code=303)

    return router
