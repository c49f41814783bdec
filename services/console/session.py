"""Who is signed in: the user's token in an HttpOnly cookie, verified on every request as the
services verify it (the same issuer, audience and keys)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response

from sinergi.auth import Principal, Unauthenticated, Verifier

COOKIE = "sinergi_sesi"


@dataclass(frozen=True)
class Session:
    principal: Principal
    token: str


async def current(request: Request, verifier: Verifier) -> Session | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        return Session(await verifier.verify(token), token)
    except Unauthenticated:
        return None


def keep(response: Response, token: str, *, secure: bool, max_age: int) -> None:
    # HttpOnly: page scripts never see the token. SameSite=Strict: another site's form cannot
    # post with it (the console's only defence needed against cross-site requests).
    response.set_cookie(
        COOKIE, token, max_age=max_age, httponly=True, samesite="strict", secure=secure
    )


def forget(response: Response) -> None:
    response.delete_cookie(COOKIE, httponly=True, samesite="strict")
