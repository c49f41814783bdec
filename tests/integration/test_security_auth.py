"""Security: authentication and function-level authorisation (OWASP API Top 10 2023: API2
broken authentication, API5 broken function-level authorisation), tried on every route of every
service. Every route but the health checks names the roles it lets in; forged, expired or
missing tokens and roles a route does not name are refused before anything runs, while the
roles it names get past the door. Also: production settings refuse the built-in issuer and want
an OIDC provider and NATS credentials, a token carries the scope its role needs, a provider's
tokens are checked by its published keys, the built-in key file is private, a token printed by
`sinergi token` works, and a remembered token still expires."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

import sinergi.auth
from sinergi.auth import Principal, Role, checked_principal, roles_of
from sinergi.catalogue import SERVICE_NAMES
from sinergi.config import ConsoleSettings, Settings
from sinergi.issuer import KeyFileVerifier, ensure_key, issue
from sinergi.natsserver import free_port, wait_for_port
from tests import tokens
from tests.integration.security_helpers import (
    OPEN,
    concrete,
    forged_tokens,
    headers_for,
    routes,
    sinergi_token,
)
from tests.system import start_system

pytestmark = pytest.mark.integration


async def test_every_route_but_the_health_checks_names_the_roles_it_lets_in(
    settings_for: Any,
) -> None:
    async with start_system(settings_for) as system:
        for name, app in system.apps.items():
            for route, dependencies in routes(app):
                if route.path in OPEN:
                    assert roles_of(dependencies) is None
                    continue
                assert roles_of(dependencies), f"{name} {route.path} names no roles"


async def test_no_forged_or_missing_token_opens_any_route(
    settings_for: Any, tmp_path: Path
) -> None:
    forged = forged_tokens(tmp_path)
    attempts: Counter[str] = Counter()
    succeeded: list[str] = []
    async with start_system(settings_for) as system:
        for name in SERVICE_NAMES:
            client = system.clients[name]
            for route, _ in routes(system.apps[name]):
                if route.path in OPEN:
                    continue
                for method in route.methods:
                    for why, authorization in forged.items():
                        answer = await client.request(
                            method,
                            concrete(route),
                            json={},
                            headers={"Authorization": authorization},
                        )
                        attempts[why] += 1
                        if answer.status_code != 401:
                            succeeded.append(f"{why}: {method} {name}{route.path} → {answer}")
                        else:
                            assert answer.headers["www-authenticate"] == "Bearer"
                            assert answer.json()["pesan"] and answer.json()["message"]
    print(f"\nautentikasi rusak (API2): {sum(attempts.values())} percobaan, "
          f"{len(succeeded)} berhasil")  # fmt: skip
    assert succeeded == []
    assert len(attempts) == len(forged)


async def test_a_role_a_route_does_not_name_is_refused_before_anything_runs(
    settings_for: Any,
) -> None:
    attempts = 0
    succeeded: list[str] = []
    async with start_system(settings_for) as system:
        for name in SERVICE_NAMES:
            client = system.clients[name]
            for route, dependencies in routes(system.apps[name]):
                allowed = roles_of(dependencies)
                if allowed is None:
                    continue
                for role in set(Role) - allowed:
                    for method in route.methods:
                        answer = await client.request(
                            method, concrete(route), json={}, headers=headers_for(role)
                        )
                        attempts += 1
                        if answer.status_code != 403:
                            succeeded.append(f"{role}: {method} {name}{route.path} → {answer}")
                        else:
                            assert role.value in answer.json()["pesan"]
    print(f"\notorisasi fungsi rusak (API5): {attempts} percobaan, {len(succeeded)} berhasil")
    assert succeeded == []
    assert attempts > 50  # the table is not empty: 88 when written


async def test_the_roles_a_route_names_get_past_the_door(settings_for: Any) -> None:
    # The other side of the table: an allowed role meets the route itself (a 404 for the
    # made-up id, a 422 for the empty body…), never the 401/403 of the door.
    async with start_system(settings_for) as system:
        for name in SERVICE_NAMES:
            client = system.clients[name]
            for route, dependencies in routes(system.apps[name]):
                allowed = roles_of(dependencies)
                if allowed is None or "text/event-stream" in str(route.responses):
                    continue  # a live stream (SSE) would stay open
                role = sorted(allowed - {Role.SYSTEM})[0]
                for method in route.methods:
                    answer = await client.request(
                        method, concrete(route), json={}, headers=headers_for(role)
                    )
                    assert answer.status_code not in (401, 403), (role, route.path, answer.text)


def test_production_refuses_the_built_in_issuer_and_wants_a_provider_and_nats_credentials(
    tmp_path: Path,
) -> None:
    base: dict[str, Any] = {
        "environment": "production",
        "database_url": "postgresql+asyncpg://sinergi@db/sinergi",
        "nats_servers": ["nats://nats:4222"],
    }
    with pytest.raises(ValidationError, match="built-in token issuer is for development"):
        Settings(**base, auth_key_file=tmp_path / "issuer.pem")
    with pytest.raises(ValidationError, match="JWKS URL"):
        Settings(**base)
    with pytest.raises(ValidationError, match="issuer URL"):
        Settings(**base, auth_jwks_url="https://sso.bontangkota.go.id/certs")
    provider = {
        "auth_jwks_url": "https://sso.bontangkota.go.id/realms/sinergi/protocol/openid-connect/certs",
        "auth_issuer": "https://sso.bontangkota.go.id/realms/sinergi",
    }
    # … and the service's own NATS user: no anonymous connection in production either.
    with pytest.raises(ValidationError, match="own NATS credentials"):
        Settings(**base, **provider)
    with pytest.raises(ValidationError, match="own NATS credentials"):
        Settings(**base, **provider, nats_user="registry")
    Settings(**base, **provider, nats_user="registry", nats_password="from-the-vault")
    ConsoleSettings(**base, **provider)  # the console's: it has no NATS connection
    with pytest.raises(ValidationError, match="own NATS credentials"):  # no setting lifts it
        Settings(**base, **provider, needs_nats=False)


def test_a_token_names_its_role_and_the_scope_the_role_needs() -> None:
    with pytest.raises(ValueError, match="must carry rw, rt"):
        issue(tokens.KEY_FILE, Principal("rt-1", Role.RT, kelurahan="64.74.01.1003"))
    principal = Principal.of(
        jwt.decode(
            tokens.token(Role.AGENCY_ADMIN, "admin-dspm", agency="dspm"),
            options={"verify_signature": False},
        )
    )
    assert principal == Principal("admin-dspm", Role.AGENCY_ADMIN, agency="dspm")
    assert principal.actor == "agency:dspm"
    rt = Principal("rt-1", Role.RT, kelurahan="64.74.01.1003", rw=3, rt=12)
    assert rt.actor == "kelurahan:64.74.01.1003"
    assert Principal("kota", Role.COORDINATOR).actor == "coordinator:kota"
    # Only coordinators (and other services) are city-wide: a kecamatan is not one.
    assert Principal("camat", Role.KECAMATAN, kecamatan="64.74.01").actor == "kecamatan:64.74.01"
    assert Principal("inspektorat", Role.AUDITOR).actor == "auditor:inspektorat"


async def test_tokens_of_an_oidc_provider_are_checked_by_its_published_keys(
    settings_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stand-in provider (RS256, key ids, a rotation) served over real HTTP."""
    first, second = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in "12")
    published = [first]
    fetched: list[float] = []

    def jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
        found: dict[str, Any] = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        return found | {"kid": kid, "use": "sig", "alg": "RS256"}

    async def certs(_: Any) -> JSONResponse:
        fetched.append(time.monotonic())
        return JSONResponse({"keys": [jwk(k, f"k{i}") for i, k in enumerate(published)]})

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(Starlette(routes=[Route("/certs", certs)]), port=port, log_level="error")
    )
    serving = asyncio.create_task(server.serve())
    await asyncio.to_thread(wait_for_port, port)
    issuer = "https://sso.bontangkota.go.id/realms/sinergi"

    def signed(key: rsa.RSAPrivateKey, kid: str, **claims: Any) -> dict[str, str]:
        now = int(time.time())
        body = {"sub": "petugas-dspm", "role": "agency_staff", "agency": "dspm",
                "iss": issuer, "aud": "sinergi", "iat": now, "exp": now + 600} | claims  # fmt: skip
        token = jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})
        return {"Authorization": f"Bearer {token}"}

    try:
        async with start_system(
            settings_for,
            services=("referrals",),
            auth_key_file=None,
            auth_jwks_url=f"http://127.0.0.1:{port}/certs",
            auth_issuer=issuer,
        ) as system:
            client = system.referrals
            assert (await client.get("/directory", headers=signed(first, "k0"))).status_code == 200
            wrong = await client.get("/directory", headers=signed(first, "k0", iss="https://x"))
            assert wrong.status_code == 401
            # The provider rotates: the new key is fetched when a token first names it.
            published.append(second)
            monkeypatch.setattr(sinergi.auth, "JWKS_REFRESH_SECONDS", 0.0)
            assert (await client.get("/directory", headers=signed(second, "k1"))).status_code == 200
            unknown = await client.get("/directory", headers=signed(second, "k9"))
            assert unknown.status_code == 401
            assert "unknown signing key" in unknown.json()["message"]
            # The built-in issuer's tokens mean nothing here.
            assert (await client.get("/directory", headers=tokens.SYSTEM)).status_code == 401
    finally:
        server.should_exit = True
        await serving
    assert len(fetched) >= 2


def test_the_built_in_key_is_made_once_and_readable_by_its_owner_only(tmp_path: Path) -> None:
    key = ensure_key(tmp_path / "auth" / "issuer.pem")
    made = key.read_bytes()
    assert ensure_key(key).read_bytes() == made
    assert key.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in key.parent.iterdir()] == ["issuer.pem"]


async def test_a_token_from_sinergi_token_opens_what_its_role_may(
    settings_for: Any,
) -> None:
    printed = await asyncio.to_thread(
        sinergi_token, "--role", "rt", "--kelurahan", "Lok Tuan", "--rw", "3", "--rt", "12"
    )
    assert printed.returncode == 0, printed.stderr
    claims = jwt.decode(printed.stdout.strip(), options={"verify_signature": False})
    assert claims["kelurahan"] == "64.74.01.1003" and (claims["rw"], claims["rt"]) == (3, 12)
    headers = {"Authorization": f"Bearer {printed.stdout.strip()}"}
    async with start_system(settings_for, services=("registry",)) as system:
        assert (await system.registry.get("/areas", headers=headers)).status_code == 200
        refused = await system.registry.post("/rulesets/rescore", json={}, headers=headers)
        assert refused.status_code == 403
    wrong = await asyncio.to_thread(sinergi_token, "--role", "lurah")
    assert wrong.returncode != 0 and "unknown role" in wrong.stderr
    production = await asyncio.to_thread(
        sinergi_token, "--role", "system", SINERGI_ENVIRONMENT="production"
    )
    assert production.returncode != 0 and "not for production" in production.stderr


async def test_a_remembered_token_still_expires() -> None:
    verifier = sinergi.auth.Remembered(
        KeyFileVerifier(tokens.KEY_FILE, issuer="sinergi-embedded", audience="sinergi")
    )
    short = issue(tokens.KEY_FILE, Principal("sebentar", Role.COORDINATOR), lifetime_seconds=1)
    assert (await verifier.verify(short)).subject == "sebentar"
    assert (await verifier.verify(short)).subject == "sebentar"  # remembered
    await asyncio.sleep(1.1)
    with pytest.raises(sinergi.auth.Unauthenticated, match="expired"):
        await verifier.verify(short)
    forged = short[:-4] + ("AAAA" if not short.endswith("AAAA") else "BBBB")
    with pytest.raises(sinergi.auth.Unauthenticated):
        await verifier.verify(forged)  # a changed signature is another key: checked again


def test_role_and_scope_may_sit_in_one_claim_object_of_the_provider() -> None:
    """SINERGI_AUTH_CLAIMS_OBJECT: a provider that nests its users' attributes (Keycloak's
    `sinergi.role` mappers, nanoidp's `attributes`) is read there; the subject stays `sub`."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    base = {"sub": "bu-rt", "iss": "idp", "aud": "sinergi", "iat": now, "exp": now + 60}

    def principal(**claims: Any) -> Principal:
        token = jwt.encode(base | claims, key, algorithm="RS256")
        return checked_principal(
            token, key.public_key(), ["RS256"], "idp", "sinergi", claims_object="sinergi"
        )

    nested = {"role": "rt", "kelurahan": "64.74.01.1003", "rw": 2, "rt": 3, "sub": "orang-lain"}
    assert principal(sinergi=nested) == Principal(
        "bu-rt", Role.RT, kelurahan="64.74.01.1003", rw=2, rt=3
    )
    with pytest.raises(sinergi.auth.Unauthenticated, match="no 'sinergi' object"):
        principal(role="coordinator")  # top-level claims are not read in its place
    with pytest.raises(sinergi.auth.Unauthenticated, match="unknown role"):
        principal(sinergi={})
