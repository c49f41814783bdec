"""A household's case page: its shared timeline (every agency's, newest first, filterable),
its members (masked as the role requires: the registry masks), the latest assessment with the
criteria met, and its referrals with what the reader may do next."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.console.backend import BackendError
from services.console.labels import EVENTS, event_label, event_name
from services.console.web import Web


def routes(web: Web) -> APIRouter:
    router = APIRouter()
    backend = web.backend

    async def part(call: Any) -> tuple[Any, str | None]:
        """One section's data, or why it is missing: each service decides what this role may
        read, and a refused section leaves the others."""
        try:
            return await call, None
        except BackendError as error:
            return None, error.pesan

    @router.get("/rumah-tangga/{household_id}", response_class=HTMLResponse)
    async def case(request: Request, household_id: UUID, jenis: str = "") -> Response:
        signed = await web.signed_in(request)
        if isinstance(signed, Response):
            return signed
        token = signed.token
        (household, no_household), (timeline, no_timeline), (found, no_referrals) = (
            await asyncio.gather(
                part(backend.get("registry", f"/households/{household_id}", token)),
                part(backend.get(
                    "referrals", f"/households/{household_id}/timeline", token,
                    {"order": "desc", "limit": 100},
                )),
                part(backend.get("referrals", "/referrals", token,
                                 {"household_id": str(household_id), "limit": 100})),
            )
        )  # fmt: skip
        entries = [
            e | {"label": event_label(e["type"]), "name": event_name(e["type"])}
            for e in (timeline or {}).get("entries", [])
        ]
        kinds = sorted({e["name"] for e in entries})
        if jenis:
            entries = [e for e in entries if e["name"] == jenis]
        return await web.view(
            request,
            "rumah_tangga.html",
            signed,
            household_id=household_id,
            household=household,
            no_household=no_household,
            entries=entries,
            no_timeline=no_timeline,
            referrals=(found or {}).get("items", []),
            no_referrals=no_referrals,
            kinds=[(k, EVENTS.get(k, k)) for k in kinds],
            jenis=jenis,
        )

    return router
