"""Field forms for Ketua RT and kader, phone first: register a household and its members,
record a child's measurement (its z-score and category shown at once), record a "Tengok
Tetangga" visit.

The forms keep what was typed on the phone until it is sent (`static/lapangan.js`): a form
goes into the phone's queue with a key of its own and is sent, and sent again after a lost
connection, with that key as `Idempotency-Key`, so the registry applies it once. The console
passes such a command to the registry as it is, with the user's token (`/lapangan/kirim/…`:
only the routes below).
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from services.console import labels
from services.console.backend import BackendError
from services.console.web import Web
from sinergi.auth import Role
from sinergi.idempotency import HEADER, KEY

FIELD_ROLES = frozenset({Role.RT, Role.KADER, Role.KELURAHAN})
# The registry's field commands the console passes on, and nothing else.
SENDABLE = re.compile(
    r"households"
    r"|households/[0-9a-f-]{36}/(members|visits|submit|assessments)"
    r"|households/[0-9a-f-]{36}/members/[0-9a-f-]{36}/measurements"
)
CITY_RULESET = "bontang-2024-13.v1"  # the city's own indicators, offered first
RELATIONS = ("kepala", "istri", "suami", "anak", "menantu", "cucu", "orang_tua", "lainnya")


def routes(web: Web) -> APIRouter:
    router = APIRouter()
    backend = web.backend

    @router.get("/lapangan", response_class=HTMLResponse)
    async def field_home(request: Request) -> Response:
        signed = await web.signed_in(request, FIELD_ROLES)
        if isinstance(signed, Response):
            return signed
        p = signed.principal
        params: dict[str, Any] = {"kelurahan_code": p.kelurahan, "limit": 100}
        if p.role is Role.RT:
            params |= {"rw": p.rw, "rt": p.rt}
        try:
            found = await backend.get("registry", "/households", signed.token, params)
        except BackendError as error:
            return web.trouble(request, error, p)
        return await web.view(request, "lapangan.html", signed, households=found["items"])

    @router.get("/lapangan/rumah-tangga/baru", response_class=HTMLResponse)
    async def new_household(request: Request) -> Response:
        signed = await web.signed_in(request, FIELD_ROLES)
        if isinstance(signed, Response):
            return signed
        return await web.view(request, "lapangan_rumah_tangga.html", signed)

    @router.get("/lapangan/rumah-tangga/{household_id}", response_class=HTMLResponse)
    async def household(request: Request, household_id: UUID) -> Response:
        signed = await web.signed_in(request, FIELD_ROLES)
        if isinstance(signed, Response):
            return signed
        try:
            found = await backend.get("registry", f"/households/{household_id}", signed.token)
        except BackendError as error:
            return web.trouble(request, error, signed.principal, error.status)
        return await web.view(
            request, "lapangan_anggota.html", signed, h=found, relations=RELATIONS,
            today=labels.today().isoformat(),
        )  # fmt: skip

    @router.get("/lapangan/rumah-tangga/{household_id}/penilaian", response_class=HTMLResponse)
    async def assessment(request: Request, household_id: UUID, aturan: str = "") -> Response:
        """The questions of a ruleset (the city's first), answered yes or no."""
        signed = await web.signed_in(request, FIELD_ROLES)
        if isinstance(signed, Response):
            return signed
        try:
            found = await backend.get("registry", f"/households/{household_id}", signed.token)
            rulesets = await backend.get("registry", "/rulesets", signed.token)
        except BackendError as error:
            return web.trouble(request, error, signed.principal, error.status)
        rulesets.sort(key=lambda r: (r["key"] != CITY_RULESET, r["key"]))
        chosen = next((r for r in rulesets if r["key"] == aturan), rulesets[0])
        return await web.view(
            request, "lapangan_penilaian.html", signed, h=found, rulesets=rulesets, r=chosen
        )

    @router.post("/lapangan/kirim/{path:path}")
    async def send(request: Request, path: str) -> Response:
        """One field command, passed to the registry with its key: the registry's answer back,
        as JSON (the phone's script shows it)."""
        signed = await web.signed_in_for_script(request, FIELD_ROLES)
        if isinstance(signed, Response):
            return signed
        key = request.headers.get(HEADER, "")
        if not SENDABLE.fullmatch(path) or not KEY.fullmatch(key):
            return JSONResponse({"pesan": "formulir tidak dikenal"}, status_code=404)
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"pesan": "isi formulir tidak terbaca"}, status_code=422)
        status, answer = await backend.send("registry", f"/{path}", signed.token, body, key)
        return JSONResponse(answer, status_code=status)

    return router
