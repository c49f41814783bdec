"""The user's inbox (the notifications service's), and its unread count for the header."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.console.backend import BackendError
from services.console.web import Web, recipient_of


def routes(web: Web) -> APIRouter:
    router = APIRouter()

    @router.get("/kotak-masuk", response_class=HTMLResponse)
    async def inbox(request: Request) -> Response:
        signed = await web.signed_in(request)
        if isinstance(signed, Response):
            return signed
        recipient = recipient_of(signed.principal)
        try:
            found = await web.backend.get(
                "notifications", "/inbox", signed.token, {"recipient": recipient, "limit": 50}
            )
        except BackendError as error:
            return web.trouble(request, error, signed.principal)
        return await web.view(
            request, "kotak_masuk.html", signed, unread=found["unread"], items=found["items"],
            recipient=recipient,
        )  # fmt: skip

    @router.post("/kotak-masuk/baca")
    async def mark_read(request: Request, ids: Annotated[list[int], Form()]) -> Response:
        signed = await web.signed_in(request)
        if isinstance(signed, Response):
            return signed
        body = {"recipient": recipient_of(signed.principal), "ids": ids}
        try:
            await web.backend.post("notifications", "/inbox/read", signed.token, body)
        except BackendError as error:
            return web.trouble(request, error, signed.principal)
        return RedirectResponse("/kotak-masuk", status_code=303)

    return router
