"""A household's case page: its shared timeline (every agency's, newest first, filterable),
its members (masked as the role requires: the registry masks), the latest assessment with the
criteria met, and its referrals with what the reader may do next."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.console import labels
from services.console.backend import BackendError
from services.console.growth_chart import GrowthChart, growth_chart
from services.console.labels import EVENTS, event_label, event_name
from services.console.session import Session
from services.console.web import Web
from sinergi.auth import Role

UNDER_FIVE_DAYS = 1826


HEALTH_READERS = frozenset({Role.KADER, Role.KELURAHAN})  # the registry's health roles


def under_five(birth_date: str) -> bool:
    return (labels.today() - date.fromisoformat(birth_date)).days < UNDER_FIVE_DAYS


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

    async def growth_charts(
        signed: Session, household_id: UUID, household: dict[str, Any] | None
    ) -> list[GrowthChart]:
        """Each under-five's chart, for the roles that may read health data (the registry
        says which: a refusal leaves the chart out)."""
        if household is None or signed.principal.role not in HEALTH_READERS:
            return []
        young = [m for m in household["members"] if under_five(m["birth_date"])]
        found = await asyncio.gather(
            *(
                part(backend.get(
                    "registry", f"/households/{household_id}/members/{m['id']}/growth",
                    signed.token,
                ))
                for m in young
            )
        )  # fmt: skip
        return [growth_chart(data) for data, _ in found if data is not None]

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
        charts = await growth_charts(signed, household_id, household)
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
            charts=charts,
            jenis=jenis,
        )

    return router
