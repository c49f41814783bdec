"""Who is calling: a bearer token (JWT) on every request but the health checks.

Production verifies tokens from the city's OIDC provider (e.g. Keycloak) by its JWKS URL
(`SINERGI_AUTH_JWKS_URL`). The embedded mode runs a built-in issuer (`sinergi.issuer`).
Settings refuse the built-in issuer in production, so no key made for a laptop ever signs a
production request.

A token names one role and the scope that goes with it, in plain claims the provider maps
from its users' attributes: `role`, and `agency`, `kecamatan`, `kelurahan`, `rw`, `rt` as the
role needs them (see REQUIRED_SCOPE).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Final, Protocol

import httpx
import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sinergi.errors import problem

ALGORITHM: Final = "ES256"
EMBEDDED_ISSUER: Final = "sinergi-embedded"
AUDIENCE: Final = "sinergi"
PROVIDER_ALGORITHMS: Final = ["RS256", "ES256", "PS256", "EdDSA"]
JWKS_REFRESH_SECONDS: Final = 60.0


class Role(StrEnum):
    RT = "rt"
    KADER = "kader"
    KELURAHAN = "kelurahan"
    KECAMATAN = "kecamatan"
    AGENCY_STAFF = "agency_staff"
    AGENCY_ADMIN = "agency_admin"
    COORDINATOR = "coordinator"
    AUDITOR = "auditor"
    SYSTEM = "system"


AGENCY_ROLES: Final = frozenset({Role.AGENCY_STAFF, Role.AGENCY_ADMIN})
AREA_ROLES: Final = frozenset({Role.RT, Role.KADER, Role.KELURAHAN})
CITY_ROLES: Final = frozenset({Role.COORDINATOR, Role.AUDITOR, Role.SYSTEM})

# The claims each role's token must carry: its scope.
REQUIRED_SCOPE: Final[Mapping[Role, tuple[str, ...]]] = {
    Role.RT: ("kelurahan", "rw", "rt"),
    Role.KADER: ("kelurahan",),
    Role.KELURAHAN: ("kelurahan",),
    Role.KECAMATAN: ("kecamatan",),
    Role.AGENCY_STAFF: ("agency",),
    Role.AGENCY_ADMIN: ("agency",),
    Role.COORDINATOR: (),
    Role.AUDITOR: (),
    Role.SYSTEM: (),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified caller."""

    subject: str
    role: Role
    agency: str | None = None
    kecamatan: str | None = None
    kelurahan: str | None = None
    rw: int | None = None
    rt: int | None = None

    @property
    def actor(self) -> str:
        """The name the services record and check the referral rules against."""
        if self.role in AGENCY_ROLES:
            return f"agency:{self.agency}"
        if self.role in AREA_ROLES:
            return f"kelurahan:{self.kelurahan}"
        if self.role is Role.KECAMATAN:
            return f"kecamatan:{self.kecamatan}"
        return f"{self.role.value}:{self.subject}"  # coordinator:, auditor:, system:

    @property
    def city_wide(self) -> bool:
        return self.role in CITY_ROLES

    def covers(self, kelurahan_code: str, rw: int, rt: int) -> bool:
        """Whether a household at this address is in the caller's area (object level: an RT
        sees its RT, a kader and a kelurahan their kelurahan, a kecamatan its kelurahan).
        Agencies see households through their referrals, not by area."""
        if self.role in CITY_ROLES:
            return True
        if self.role is Role.KECAMATAN:
            return kelurahan_code.startswith(f"{self.kecamatan}.")
        if self.role not in AREA_ROLES or kelurahan_code != self.kelurahan:
            return False
        if self.role is Role.RT:
            return (rw, rt) == (self.rw, self.rt)
        return self.role is not Role.KADER or self.rw is None or rw == self.rw

    def covers_kelurahan(self, kelurahan_code: str) -> bool:
        """Whether the whole kelurahan is the caller's: its officers', its kecamatan's, the
        city's (an RT or a kader holds only part of it)."""
        if self.role in CITY_ROLES:
            return True
        if self.role is Role.KECAMATAN:
            return kelurahan_code.startswith(f"{self.kecamatan}.")
        return self.role is Role.KELURAHAN and kelurahan_code == self.kelurahan

    def claims(self) -> dict[str, Any]:
        found: dict[str, Any] = {"sub": self.subject, "role": self.role.value}
        for name in ("agency", "kecamatan", "kelurahan", "rw", "rt"):
            if (value := getattr(self, name)) is not None:
                found[name] = value
        return found

    @classmethod
    def of(cls, claims: Mapping[str, Any]) -> Principal:
        """The principal a verified token's claims name; ValueError says what is wrong."""
        try:
            role = Role(str(claims.get("role")))
        except ValueError:
            raise ValueError(
                f"peran tidak dikenal: {claims.get('role')!r} (unknown role); "
                f"one of {', '.join(r.value for r in Role)}"
            ) from None
        missing = [name for name in REQUIRED_SCOPE[role] if claims.get(name) in (None, "")]
        if missing:
            raise ValueError(
                f"token peran {role.value} tanpa {', '.join(missing)} "
                f"(a {role.value} token must carry {', '.join(missing)})"
            )
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise ValueError("token tanpa sub (the token names no subject)")

        def number(name: str) -> int | None:
            value = claims.get(name)
            return None if value is None else int(value)

        return cls(
            subject=subject,
            role=role,
            agency=claims.get("agency") if role in AGENCY_ROLES else None,
            kecamatan=claims.get("kecamatan"),
            kelurahan=claims.get("kelurahan"),
            rw=number("rw"),
            rt=number("rt"),
        )


class Verifier(Protocol):
    async def verify(self, token: str) -> Principal: ...


def checked_principal(
    token: str,
    key: Any,
    algorithms: list[str],
    issuer: str,
    audience: str,
    claims_object: str | None = None,
) -> Principal:
    """The principal of `token`, checked with `key`: signature, expiry, issuer, audience.
    With `claims_object`, the role and scope claims are read from that claim's object (the
    subject stays the token's own `sub`)."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            issuer=issuer,
            audience=audience,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
        if claims_object is not None:
            nested = claims.get(claims_object)
            if not isinstance(nested, Mapping):
                raise ValueError(
                    f"token tanpa klaim {claims_object} (the token has no {claims_object!r} "
                    "object with the role and scope claims)"
                )
            claims = {**nested, "sub": claims["sub"]}
        return Principal.of(claims)
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("token kedaluwarsa (token expired)") from None
    except jwt.PyJWTError as error:
        raise Unauthenticated(f"token tidak sah (invalid token): {error}") from None
    except ValueError as error:
        raise Unauthenticated(str(error)) from None


class Unauthenticated(Exception):
    pass


class JwksVerifier:
    """An OIDC provider's tokens, checked with the keys its JWKS URL publishes.

    The key set is fetched on first use and again when a token names a key not in it (the
    provider rotated), at most once a minute so that made-up key ids cannot flood it.
    """

    def __init__(
        self, jwks_url: str, *, issuer: str, audience: str, claims_object: str | None = None
    ) -> None:
        self._url, self._issuer, self._audience = jwks_url, issuer, audience
        self._claims_object = claims_object
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = -JWKS_REFRESH_SECONDS
        self._lock = asyncio.Lock()

    async def verify(self, token: str) -> Principal:
        key = await self.key_for(token)
        return checked_principal(
            token, key, PROVIDER_ALGORITHMS, self._issuer, self._audience, self._claims_object
        )

    async def key_for(self, token: str) -> jwt.PyJWK:
        """The provider's key that signed `token` (by its `kid`); Unauthenticated if none."""
        try:
            kid = jwt.get_unverified_header(token).get("kid", "")
        except jwt.PyJWTError as error:
            raise Unauthenticated(f"token tidak sah (invalid token): {error}") from None
        key = self._keys.get(kid) or await self._refreshed(kid)
        if key is None:
            raise Unauthenticated(f"kunci token tidak dikenal (unknown signing key {kid!r})")
        return key

    async def _refreshed(self, kid: str) -> jwt.PyJWK | None:
        async with self._lock:
            if (
                kid not in self._keys
                and time.monotonic() - self._fetched_at >= JWKS_REFRESH_SECONDS
            ):
                self._fetched_at = time.monotonic()
                try:
                    async with httpx.AsyncClient(timeout=5.0) as client:
                        response = await client.get(self._url)
                        response.raise_for_status()
                    keys = jwt.PyJWKSet.from_dict(response.json()).keys
                except (httpx.HTTPError, jwt.PyJWTError, ValueError) as error:
                    raise Unauthenticated(
                        f"kunci penyedia login tidak terbaca (provider keys unavailable): {error}"
                    ) from None
                self._keys = {k.key_id: k for k in keys if k.key_id}
            return self._keys.get(kid)


# The request's verified caller, for what records who did something (e.g. an event's
# recorded_by) without every use case taking it as an argument. None outside a request.
CALLER: ContextVar[Principal | None] = ContextVar("sinergi_caller", default=None)

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="Token JWT (OIDC, atau `sinergi token` pada mode tertanam) — a bearer JWT",
)


async def authenticated(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller, from the request's bearer token; 401 without a valid one."""
    if credentials is None:
        raise _unauthorised(
            "header Authorization: Bearer <token> wajib (a bearer token is required)"
        )
    verifier: Verifier = request.app.state.verifier
    try:
        principal = await verifier.verify(credentials.credentials)
    except Unauthenticated as error:
        raise _unauthorised(str(error)) from None
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None and principal.role is not Role.SYSTEM:  # other services: not limited
        limiter.check(principal.subject)
    CALLER.set(principal)
    return principal


Caller = Annotated[Principal, Depends(authenticated)]


def allow(*roles: Role) -> list[Any]:
    """Route dependencies that let only `roles` (and `system`, other services) through:
    function-level authorisation, e.g. `@router.post(..., dependencies=allow(Role.RT))`."""
    allowed = frozenset(roles) | {Role.SYSTEM}
    names = ", ".join(sorted(r.value for r in allowed))

    async def check(principal: Caller) -> Principal:
        if principal.role not in allowed:
            raise problem(
                403,
                f"peran {principal.role.value} tidak boleh melakukan ini; hanya {names} "
                f"(role {principal.role.value} may not do this; only {names})",
            )
        return principal

    check.roles = allowed  # type: ignore[attr-defined]  # read by the policy test and docs
    return [Depends(check)]


def roles_of(dependencies: Any) -> frozenset[Role] | None:
    """The roles a route's `allow(...)` lets through, or None when it has none."""
    for dependency in dependencies:
        roles = getattr(getattr(dependency, "dependency", None), "roles", None)
        if roles is not None:
            return frozenset(roles)
    return None


# The groups the services' routes are opened to.
EVERYONE: Final = tuple(Role)
FIELD: Final = (Role.RT, Role.KELURAHAN)
AREA_READERS: Final = (Role.RT, Role.KADER, Role.KELURAHAN, Role.KECAMATAN, Role.COORDINATOR)
CASE_WORKERS: Final = (Role.KELURAHAN, Role.AGENCY_STAFF, Role.AGENCY_ADMIN, Role.COORDINATOR)
CASE_READERS: Final = (*CASE_WORKERS, Role.KECAMATAN)
MANAGERS: Final = (Role.COORDINATOR, Role.KECAMATAN, Role.KELURAHAN, Role.AGENCY_ADMIN)


def _unauthorised(detail: str) -> Exception:
    return problem(401, detail, headers={"WWW-Authenticate": "Bearer"})


class Remembered:
    """A verifier that remembers the tokens it verified, until they expire or for at most
    `for_seconds`. A client sends the same token with every request for hours; checking its
    ES256/RS256 signature each time was a tenth of a request's CPU. The key is the whole
    token, signature included, so only a token verified before is taken on trust."""

    def __init__(self, inner: Verifier, *, for_seconds: float = 300.0, size: int = 10_000):
        self._inner, self._for, self._size = inner, for_seconds, size
        self._known: dict[str, tuple[Principal, float]] = {}

    async def verify(self, token: str) -> Principal:
        now = time.time()
        known = self._known.get(token)
        if known is not None and now < known[1]:
            return known[0]
        principal = await self._inner.verify(token)
        expires = jwt.decode(token, options={"verify_signature": False})["exp"]
        if len(self._known) >= self._size:
            self._known.clear()  # simpler than LRU, and a refill costs one check per caller
        self._known[token] = (principal, min(float(expires), now + self._for))
        return principal


def verifier_for(settings: Any) -> Verifier:
    """The verifier `settings` (sinergi.config.Settings) ask for."""
    if settings.auth_jwks_url:
        return Remembered(
            JwksVerifier(
                settings.auth_jwks_url,
                issuer=settings.auth_issuer,
                audience=settings.auth_audience,
                claims_object=settings.auth_claims_object or None,  # compose passes ""
            )
        )
    if settings.auth_key_file:
        from sinergi.issuer import KeyFileVerifier, ensure_key

        return Remembered(
            KeyFileVerifier(
                ensure_key(settings.auth_key_file),
                issuer=settings.auth_issuer,
                audience=settings.auth_audience,
            )
        )
    raise RuntimeError(
        "auth: set SINERGI_AUTH_JWKS_URL (OIDC provider) or SINERGI_AUTH_KEY_FILE "
        "(built-in issuer, development)"
    )
