"""Who is signed in: the user's token in an HttpOnly cookie, verified on every request as the
services verify it (the same issuer, audience and keys). A session signed in at the OIDC
provider also keeps the provider's refresh token, in a cookie of its own, to renew the access
token when it runs out (`renewal`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from fastapi import Request
from fastapi.responses import Response

from sinergi.auth import Principal, Unauthenticated, Verifier

COOKIE: Final = "sinergi_sesi"
REFRESH_COOKIE: Final = "sinergi_segar"
RENEWED: Final = "sinergi_token_baru"  # request state: the token renewed for this request


@dataclass(frozen=True)
class Session:
    principal: Principal
    token: str


async def current(request: Request, verifier: Verifier) -> Session | None:
    token = request.cookies.get(COOKIE) or request.scope.get("state", {}).get(RENEWED)
    if not token:
        return None
    try:
        return Session(await verifier.verify(token), token)
    except Unauthenticated:
        return None


def keep(
    response: Response,
    token: str,
    *,
    secure: bool,
    max_age: int,
    refresh_token: str | None = None,
    refresh_max_age: int = 0,
) -> None:
    # HttpOnly: page scripts never see the tokens. SameSite=Strict: another site's form cannot
    # post with them (the console's only defence needed against cross-site requests).
    response.set_cookie(
        COOKIE, token, max_age=max_age, httponly=True, samesite="strict", secure=secure
    )
    if refresh_token:
        response.set_cookie(
            REFRESH_COOKIE, refresh_token, max_age=refresh_max_age,
            httponly=True, samesite="strict", secure=secure,
        )  # fmt: skip


def forget(response: Response) -> None:
    response.delete_cookie(COOKIE, httponly=True, samesite="strict")
    response.delete_cookie(REFRESH_COOKIE, httponly=True, samesite="strict")
