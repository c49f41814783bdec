"""Sign-in at the city's OIDC provider (e.g. Keycloak): the authorization code flow with PKCE
(S256), the console a confidential client. The provider's access token, checked as the
services check it, becomes the session: the console calls the services with it.

The login in progress (state, PKCE verifier, nonce) waits in a short-lived HttpOnly cookie,
so that only the browser that started a sign-in can finish it.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import asdict, dataclass
from typing import Any, Final

import httpx
import jwt
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from fastapi import Request
from fastapi.responses import Response

from services.console import session
from sinergi.auth import PROVIDER_ALGORITHMS, JwksVerifier, Unauthenticated
from sinergi.config import Settings

PENDING_COOKIE: Final = "sinergi_masuk"
PENDING_SECONDS: Final = 600
CALLBACK_PATH: Final = "/masuk/kembali"
REFRESH_SECONDS: Final = 8 * 3600  # when the provider does not say how long it lasts
RENEW_EARLY_SECONDS: Final = 30  # clocks differ; a page takes a moment to be made


class SignInFailed(Exception):
    """The sign-in did not complete; the message says why (Indonesian, English beside)."""


@dataclass(frozen=True)
class Pending:
    state: str
    verifier: str
    nonce: str

    def cookie(self) -> str:
        return base64.urlsafe_b64encode(json.dumps(asdict(self)).encode()).decode()

    @classmethod
    def of(cls, cookie: str | None) -> Pending | None:
        if not cookie:
            return None
        try:
            return cls(**json.loads(base64.urlsafe_b64decode(cookie)))
        except (ValueError, TypeError):
            return None


@dataclass(frozen=True)
class Tokens:
    access_token: str
    expires_in: int
    refresh_token: str | None = None
    refresh_expires_in: int = REFRESH_SECONDS

    @classmethod
    def of(cls, answer: dict[str, Any]) -> Tokens:
        return cls(
            answer["access_token"],
            int(answer.get("expires_in") or 300),
            answer.get("refresh_token"),
            int(answer.get("refresh_expires_in") or REFRESH_SECONDS),
        )


class Provider:
    """The provider the services trust (`SINERGI_AUTH_ISSUER`), found by its discovery
    document, with the console's client there."""

    def __init__(self, settings: Settings) -> None:
        assert settings.auth_jwks_url and settings.console_oidc_client_id
        self._issuer = settings.auth_issuer.rstrip("/")
        self._client_id = settings.console_oidc_client_id
        self._client_secret = settings.console_oidc_client_secret
        self._public_url = settings.console_public_url
        self._keys = JwksVerifier(
            settings.auth_jwks_url, issuer=settings.auth_issuer, audience=self._client_id
        )
        self._metadata: dict[str, Any] | None = None

    def address(self, request: Request, path: str) -> str:
        """`path` as browsers reach the console (behind a proxy: SINERGI_CONSOLE_PUBLIC_URL)."""
        base = self._public_url or str(request.base_url)
        return base.rstrip("/") + path

    async def start(self, request: Request) -> tuple[str, Pending]:
        """Where to send the browser, and what the callback must find again."""
        metadata = await self._discovered()
        pending = Pending(
            state=secrets.token_urlsafe(24),
            verifier=secrets.token_urlsafe(48),
            nonce=secrets.token_urlsafe(24),
        )
        async with self._client(request) as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"],
                state=pending.state,
                code_verifier=pending.verifier,
                nonce=pending.nonce,
            )
        return url, pending

    async def finish(self, request: Request, pending: Pending | None) -> Tokens:
        """The tokens for the code the provider sent back, once state and nonce match."""
        query = request.query_params
        if error := query.get("error"):
            why = query.get("error_description") or error
            raise SignInFailed(f"penyedia login menolak: {why} (the provider refused)")
        if pending is None or not secrets.compare_digest(query.get("state", ""), pending.state):
            raise SignInFailed(
                "sesi masuk tidak cocok atau kedaluwarsa, silakan ulangi "
                "(the sign-in did not start in this browser or took too long; start again)"
            )
        metadata = await self._discovered()
        try:
            async with self._client(request) as client:
                token = await client.fetch_token(
                    metadata["token_endpoint"],
                    code=query.get("code", ""),
                    code_verifier=pending.verifier,
                )
        except (httpx.HTTPError, AuthlibBaseError, ValueError) as error:
            raise SignInFailed(f"penukaran kode gagal (code exchange failed): {error}") from None
        if "id_token" in token:
            await self._check_id_token(token["id_token"], pending.nonce)
        return Tokens.of(token)

    async def refresh(self, request: Request, refresh_token: str) -> Tokens:
        """New tokens for a session whose access token ran out (providers give short-lived
        ones: Keycloak's last 5 minutes), so that people are not sent to sign in again."""
        metadata = await self._discovered()
        try:
            async with self._client(request) as client:
                token = await client.refresh_token(
                    metadata["token_endpoint"], refresh_token=refresh_token
                )
        except (httpx.HTTPError, AuthlibBaseError, ValueError) as error:
            raise SignInFailed(f"sesi tidak bisa diperpanjang (renewal failed): {error}") from None
        return Tokens.of(token)

    async def sign_out_url(self, request: Request) -> str | None:
        """The provider's end-session address (RP-initiated logout), if it has one; it sends
        the browser back to the sign-in page."""
        try:
            endpoint = (await self._discovered()).get("end_session_endpoint")
        except SignInFailed:
            return None
        if not endpoint:
            return None
        after = self.address(request, "/masuk")
        params = {"client_id": self._client_id, "post_logout_redirect_uri": after}
        return str(httpx.URL(endpoint, params=params))

    async def _check_id_token(self, id_token: str, nonce: str) -> None:
        try:
            key = await self._keys.key_for(id_token)
            claims = jwt.decode(
                id_token,
                key,
                algorithms=PROVIDER_ALGORITHMS,
                audience=self._client_id,
                issuer=self._issuer,
            )
        except (Unauthenticated, jwt.PyJWTError) as error:
            raise SignInFailed(f"id_token tidak sah (invalid id_token): {error}") from None
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise SignInFailed("nonce id_token tidak cocok (the id_token's nonce differs)")

    def _client(self, request: Request) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self._client_id,
            client_secret=self._client_secret,
            scope="openid",
            redirect_uri=self.address(request, CALLBACK_PATH),
            code_challenge_method="S256",
            timeout=10.0,
        )

    async def _discovered(self) -> dict[str, Any]:
        if self._metadata is None:
            url = f"{self._issuer}/.well-known/openid-configuration"
            try:
                async with httpx.AsyncClient(timeout=5.0) as client:
                    answer = await client.get(url)
                    answer.raise_for_status()
                    self._metadata = answer.json()
            except (httpx.HTTPError, ValueError) as error:
                raise SignInFailed(
                    f"penyedia login tidak terjangkau (the OIDC provider is unreachable): {error}"
                ) from None
        return self._metadata


def keep_pending(response: Response, pending: Pending, *, secure: bool) -> None:
    # SameSite=Lax, not Strict: the provider sends the browser back with a top-level GET from
    # its own site, and a Strict cookie would stay behind. Only the callback's path sees it.
    response.set_cookie(
        PENDING_COOKIE, pending.cookie(), max_age=PENDING_SECONDS, path=CALLBACK_PATH,
        httponly=True, samesite="lax", secure=secure,
    )  # fmt: skip


def forget_pending(response: Response) -> None:
    response.delete_cookie(PENDING_COOKIE, path=CALLBACK_PATH, httponly=True, samesite="lax")


def keep_tokens(response: Response, tokens: Tokens, *, secure: bool) -> None:
    """The session in the browser's cookies: the access token until shortly before it runs
    out (the browser then drops it and the next request renews the session, rather than
    sending a token the services would just refuse), the refresh token (if the provider gave
    one) for as long as that lasts."""
    session.keep(
        response, tokens.access_token, secure=secure,
        max_age=max(1, tokens.expires_in - RENEW_EARLY_SECONDS),
        refresh_token=tokens.refresh_token, refresh_max_age=tokens.refresh_expires_in,
    )  # fmt: skip
