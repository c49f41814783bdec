"""Renewal of a session signed in at the OIDC provider: when its access token has run out
(the browser drops the cookie then) and the refresh token is still there, new tokens are
fetched before the page is made. The page uses the new access token at once, and the answer
carries both new cookies, whatever the page (a form's POST or the dashboard's live stream)."""

from __future__ import annotations

import asyncio
import time
from typing import Final

from fastapi import Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.console import oidc, session
from sinergi.auth import Unauthenticated, Verifier

# How long one renewal answers for its refresh token: the requests a page sets off together
# (or sent before the browser took the new cookies) share it. A provider that rotates refresh
# tokens refuses an old one the second time; asking once keeps such a session alive.
SHARED_SECONDS: Final = 60.0


class Renewal:
    def __init__(
        self, app: ASGIApp, *, provider: oidc.Provider, verifier: Verifier, secure: bool
    ) -> None:
        self.app, self.provider, self.verifier, self.secure = app, provider, verifier, secure
        self._renewals: dict[str, tuple[float, asyncio.Task[oidc.Tokens | None]]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            return await self.app(scope, receive, send)
        request = Request(scope)
        refresh_token = request.cookies.get(session.REFRESH_COOKIE)
        if request.cookies.get(session.COOKIE) or not refresh_token:
            return await self.app(scope, receive, send)
        cookies = Response()
        # Shielded: a request that goes away does not cancel the renewal others wait for.
        tokens = await asyncio.shield(self._renewed(request, refresh_token))
        if tokens is None:
            session.forget(cookies)  # ended at the provider: sign in again
        else:
            scope.setdefault("state", {})[session.RENEWED] = tokens.access_token
            oidc.keep_tokens(cookies, tokens, secure=self.secure)
        set_cookies = [(k, v) for k, v in cookies.raw_headers if k == b"set-cookie"]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *set_cookies]}
            await send(message)

        await self.app(scope, receive, sending)

    def _renewed(self, request: Request, refresh_token: str) -> asyncio.Task[oidc.Tokens | None]:
        now = time.monotonic()
        self._renewals = {k: v for k, v in self._renewals.items() if v[0] > now}
        if refresh_token not in self._renewals:
            task = asyncio.ensure_future(self._renew(request, refresh_token))
            self._renewals[refresh_token] = (now + SHARED_SECONDS, task)
        return self._renewals[refresh_token][1]

    async def _renew(self, request: Request, refresh_token: str) -> oidc.Tokens | None:
        try:
            tokens = await self.provider.refresh(request, refresh_token)
            await self.verifier.verify(tokens.access_token)  # as the services will check it
        except (oidc.SignInFailed, Unauthenticated):
            return None
        return tokens
