"""Security: who may call what (OWASP API Top 10 2023: API2 broken authentication, API5 broken
function-level authorisation), tried on every route of every service."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import ValidationError
from sinergi_contracts import ReferralRequested
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

import sinergi.auth
from sinergi.auth import REQUIRED_SCOPE, Principal, Role, ensure_key, issue, load_key, roles_of
from sinergi.catalogue import SERVICE_NAMES
from sinergi.config import Settings
from sinergi.natsserver import free_port, wait_for_port
from tests import tokens
from tests.sse import open_stream
from tests.system import eventually, start_system

pytestmark = pytest.mark.integration

OPEN = {"/healthz", "/readyz"}
SCOPES: dict[str, Any] = {
    "agency": "dspm",
    "kecamatan": "64.74.01",
    "kelurahan": "64.74.01.1003",
    "rw": 1,
    "rt": 1,
}


def routes(app: FastAPI) -> Iterator[tuple[APIRoute, list[Any]]]:
    """Every API route of `app` with the dependencies it runs (its router's and its own)."""
    for route in app.routes:
        if isinstance(route, APIRoute):
            yield route, list(route.dependencies)
            continue
        included = getattr(route, "original_router", None)
        if included is None:
            continue  # FastAPI's own documentation pages
        for inner in included.routes:
            if isinstance(inner, APIRoute):
                yield inner, [*route.include_context.dependencies, *inner.dependencies]


def concrete(route: APIRoute) -> str:
    """The route's path with a well-formed value in each parameter."""
    path = route.path
    for param in route.dependant.path_params:
        kind = param.field_info.annotation
        value = (
            "1"
            if kind is int
            else date(2026, 11, 29).isoformat()
            if kind is date
            else "receive"
            if param.name == "action"
            else str(uuid.uuid4())
        )
        path = path.replace(f"{{{param.name}}}", value)
    return path


def scope_for(role: Role) -> dict[str, Any]:
    return {name: SCOPES[name] for name in REQUIRED_SCOPE[role]}


def headers_for(role: Role) -> dict[str, str]:
    return tokens.bearer(role, f"uji-{role.value}", **scope_for(role))


def forged_tokens(tmp_path: Path) -> dict[str, str]:
    """Tokens that must not open anything, by what is wrong with them."""
    now = int(time.time())
    good = {"sub": "penyusup", "role": "coordinator", "iss": "sinergi-embedded",
            "aud": "sinergi", "iat": now, "exp": now + 600}  # fmt: skip
    key = tokens.KEY_FILE
    stranger = ensure_key(tmp_path / "other.pem")

    def signed(claims: dict[str, Any], with_key: Path = key) -> str:
        return jwt.encode(claims, load_key(with_key), algorithm="ES256")

    return {
        "tanpa token (none)": "",
        "bukan JWT (not a JWT)": "Bearer sembarang",
        "skema lain (Basic)": "Basic dXNlcjpwYXNz",
        "kunci lain (another key)": f"Bearer {signed(good, stranger)}",
        "kedaluwarsa (expired)": f"Bearer {signed(good | {'exp': now - 60})}",
        "audiens lain (audience)": f"Bearer {signed(good | {'aud': 'lain'})}",
        "penerbit lain (issuer)": f"Bearer {signed(good | {'iss': 'https://lain'})}",
        "alg none": "Bearer " + jwt.encode(good, None, algorithm="none").rstrip("."),  # type: ignore[arg-type]
        "HS256 dengan kunci publik (key confusion)": "Bearer "
        + jwt.encode(good, "rahasia-yang-cukup-panjang-untuk-hs256!", algorithm="HS256"),
        "peran tak dikenal (unknown role)": f"Bearer {signed(good | {'role': 'admin'})}",
        "rt tanpa cakupan (rt without scope)": f"Bearer {signed(good | {'role': 'rt'})}",
        "tanpa exp (no expiry)": f"Bearer {signed({k: v for k, v in good.items() if k != 'exp'})}",
    }


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
                if allowed is None or route.path.endswith("/stream"):
                    continue  # a live stream would stay open
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


def sinergi_token(*options: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sinergi.cli", "token", *options],
        capture_output=True,
        text=True,
        env={"SINERGI_AUTH_KEY_FILE": str(tokens.KEY_FILE), "PATH": "/usr/bin:/bin"} | env,
    )


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


# --- API1 broken object-level authorisation, API3 mass assignment -------------------------

LOK_TUAN, API_API, TANJUNG_LAUT = "64.74.01.1003", "64.74.01.1006", "64.74.02.1001"


def place(no_kk: str, kelurahan: str = LOK_TUAN, rw: int = 1, rt: int = 1) -> dict[str, Any]:
    return {"no_kk": no_kk, "kelurahan_code": kelurahan, "rw": rw, "rt": rt,
            "address": "Jl. Pupuk Raya No. 1", "head_name": "Siti Aminah"}  # fmt: skip


class Tally:
    """Attempts that must fail, per OWASP class; what got through is kept to show."""

    def __init__(self) -> None:
        self.attempts: Counter[str] = Counter()
        self.through: list[str] = []

    def expect(self, kind: str, answer: Any, *refused: int) -> None:
        self.attempts[kind] += 1
        if answer.status_code not in refused:
            self.through.append(f"{kind}: {answer.request.method} {answer.request.url} → "
                                f"{answer.status_code} {answer.text[:200]}")  # fmt: skip

    def report(self) -> None:
        for kind, n in sorted(self.attempts.items()):
            print(f"\n{kind}: {n} percobaan, {sum(kind in t for t in self.through)} berhasil")
        assert self.through == []


async def test_an_rt_a_kelurahan_and_a_kecamatan_reach_only_their_own_households(
    settings_for: Any,
) -> None:
    tally = Tally()
    rt_1 = tokens.bearer(Role.RT, "rt-1-1", kelurahan=LOK_TUAN, rw=1, rt=1)
    rt_2 = tokens.bearer(Role.RT, "rt-1-2", kelurahan=LOK_TUAN, rw=1, rt=2)
    api_api = tokens.bearer(Role.KELURAHAN, "lurah-api-api", kelurahan=API_API)
    utara = tokens.bearer(Role.KECAMATAN, "camat-utara", kecamatan="64.74.01")
    selatan = tokens.bearer(Role.KECAMATAN, "camat-selatan", kecamatan="64.74.02")
    async with start_system(settings_for, services=("registry",)) as system:
        registry = system.registry
        mine = await registry.post("/households", json=place("6474010101300001"), headers=rt_1)
        assert mine.status_code == 201, mine.text
        theirs = await registry.post("/households", json=place("6474010101300002", rt=2))
        assert theirs.status_code == 201
        mine_id, theirs_id = mine.json()["id"], theirs.json()["id"]

        # Registering outside one's own area names the field.
        wrong_rt = await registry.post(
            "/households", json=place("6474010101300003", rt=2), headers=rt_1
        )
        tally.expect("API1 object level", wrong_rt, 403)
        assert "rt" in wrong_rt.json()["pesan"]
        wrong_kelurahan = await registry.post(
            "/households", json=place("6474010101300004", kelurahan=API_API), headers=rt_1
        )
        tally.expect("API1 object level", wrong_kelurahan, 403)
        assert "kelurahan_code" in wrong_kelurahan.json()["pesan"]

        # Another RT's household does not exist for this RT, read or written.
        assert (await registry.get(f"/households/{mine_id}", headers=rt_1)).status_code == 200
        member = {"nik": "6474014107850002", "name": "Rina", "sex": "P",
                  "birth_date": "1985-07-01", "relation": "istri"}  # fmt: skip
        attempts = [
            registry.get(f"/households/{theirs_id}", headers=rt_1),
            registry.post(f"/households/{theirs_id}/members", json=member, headers=rt_1),
            registry.post(f"/households/{theirs_id}/submit", headers=rt_1),
            registry.post(f"/households/{theirs_id}/verify", headers=api_api),
            registry.get(f"/households/{mine_id}", headers=rt_2),
            registry.get(f"/households/{mine_id}", headers=api_api),
            registry.get(f"/households/{mine_id}", headers=selatan),
        ]
        for attempt in attempts:
            tally.expect("API1 object level", await attempt, 404)
        assert (await registry.get(f"/households/{mine_id}", headers=utara)).status_code == 200

        # Lists show one's own area only; asking for another's is refused.
        own = (await registry.get("/households", headers=rt_1)).json()["items"]
        assert [h["id"] for h in own] == [mine_id]
        assert len((await registry.get("/households", headers=utara)).json()["items"]) == 2
        assert (await registry.get("/households", headers=selatan)).json()["items"] == []
        for query, headers in [({"rt": 2}, rt_1), ({"kelurahan_code": LOK_TUAN}, api_api),
                               ({"kelurahan_code": LOK_TUAN}, selatan)]:  # fmt: skip
            listed = await registry.get("/households", params=query, headers=headers)
            tally.expect("API1 object level", listed, 403)
    tally.report()


async def test_an_agency_reaches_only_the_referrals_and_households_it_serves(
    settings_for: Any,
) -> None:
    tally = Tally()
    lurah = tokens.bearer(Role.KELURAHAN, "lurah-lok-tuan", kelurahan=LOK_TUAN)
    dspm = tokens.bearer(Role.AGENCY_STAFF, "staf-dspm", agency="dspm")
    baznas = tokens.bearer(Role.AGENCY_STAFF, "staf-baznas", agency="baznas")
    api_api = tokens.bearer(Role.KELURAHAN, "lurah-api-api", kelurahan=API_API)
    async with start_system(settings_for, services=("registry", "referrals")) as system:
        created = await system.registry.post("/households", json=place("6474010101300011"))
        household_id = created.json()["id"]

        async def referred() -> Any:
            return await system.referrals.post(
                "/referrals",
                json={"household_id": household_id, "programme": "dspm-bansos"},
                headers=lurah,
            )

        referral = (await eventually(referred, lambda r: r.status_code == 201)).json()
        rid = referral["id"]
        referrals = system.referrals
        assert (await referrals.get(f"/referrals/{rid}", headers=dspm)).status_code == 200
        timeline = f"/households/{household_id}/timeline"
        assert (await referrals.get(timeline, headers=dspm)).status_code == 200
        for headers in (baznas, api_api):
            for attempt in (
                referrals.get(f"/referrals/{rid}", headers=headers),
                referrals.post(f"/referrals/{rid}/receive", json={}, headers=headers),
                referrals.post(f"/referrals/{rid}/cancel", json={"reason": "x"}, headers=headers),
                referrals.get(timeline, headers=headers),
                referrals.get(f"/households/{household_id}/benefits", headers=headers),
            ):
                tally.expect("API1 object level", await attempt, 404)
            listed = await referrals.get("/referrals", headers=headers)
            assert listed.status_code == 200 and listed.json()["items"] == []
            for_dspm = await referrals.get("/referrals", params={"agency": "dspm"}, headers=headers)
            assert for_dspm.json()["items"] == []
        # Mass assignment: a step cannot set the status, version or agency itself.
        forced = await referrals.post(
            f"/referrals/{rid}/receive",
            json={"status": "completed", "version": 9, "agency": "baznas"},
            headers=dspm,
        )
        tally.expect("API3 mass assignment", forced, 422)
        after = (await referrals.get(f"/referrals/{rid}", headers=dspm)).json()
        assert (after["status"], after["version"], after["agency"]) == ("requested", 1, "dspm")
        planted = await system.registry.post(
            "/households",
            json=place("6474010101300012") | {"verification": "verified", "id": str(uuid.uuid4())},
        )
        tally.expect("API3 mass assignment", planted, 422)
    tally.report()


async def test_inboxes_and_subscriptions_are_their_owners_only(settings_for: Any) -> None:
    tally = Tally()
    dspm = tokens.bearer(Role.AGENCY_ADMIN, "admin-dspm", agency="dspm")
    baznas = tokens.bearer(Role.AGENCY_ADMIN, "admin-baznas", agency="baznas")
    rt = tokens.bearer(Role.RT, "rt-3-12", kelurahan=LOK_TUAN, rw=3, rt=12)
    async with start_system(settings_for, services=("notifications",)) as system:
        notifications = system.notifications
        own = await notifications.get("/inbox", params={"recipient": "agency:dspm"}, headers=dspm)
        assert own.status_code == 200
        rt_inbox = {"recipient": f"rt:{LOK_TUAN}:3:12"}
        assert (await notifications.get("/inbox", params=rt_inbox, headers=rt)).status_code == 200
        subscription = {
            "owner": "agency:dspm",
            "channel": "webhook",
            "audience": "agency:dspm",
            "target": "https://dspm.bontangkota.go.id/hooks/sinergi",
            "event_types": [ReferralRequested.ce_type()],
        }
        eavesdrop = subscription | {"owner": "agency:baznas"}  # DSPM's events to Baznas
        created = await notifications.post("/subscriptions", json=subscription, headers=dspm)
        assert created.status_code == 201, created.text
        sid = created.json()["id"]
        for attempt, refused in (
            (notifications.get("/inbox", params={"recipient": "agency:dspm"}, headers=baznas), 403),
            (notifications.get("/inbox", params={"recipient": "city"}, headers=rt), 403),
            (
                notifications.get(
                    "/inbox", params={"recipient": f"kelurahan:{LOK_TUAN}"}, headers=rt
                ),
                403,
            ),
            (
                notifications.post(
                    "/inbox/read", json={"recipient": "agency:dspm"}, headers=baznas
                ),
                403,
            ),
            (notifications.post("/subscriptions", json=subscription, headers=baznas), 403),
            (notifications.post("/subscriptions", json=eavesdrop, headers=baznas), 403),
            (notifications.get(f"/subscriptions/{sid}", headers=baznas), 404),
            (notifications.delete(f"/subscriptions/{sid}", headers=baznas), 404),
        ):
            tally.expect("API1 object level", await attempt, refused)
        listed = await notifications.get("/subscriptions", headers=baznas)
        assert listed.json() == []
        assert [s["id"] for s in (await notifications.get("/subscriptions", headers=dspm)).json()]
    tally.report()


async def test_health_details_reach_cadres_the_kelurahan_and_health_agencies_only(
    settings_for: Any,
) -> None:
    lurah = tokens.bearer(Role.KELURAHAN, "lurah-lok-tuan", kelurahan=LOK_TUAN)
    rt = tokens.bearer(Role.RT, "rt-1-1", kelurahan=LOK_TUAN, rw=1, rt=1)
    coordinator = tokens.bearer(Role.COORDINATOR, "wakil-wali-kota")
    dspm = tokens.bearer(Role.AGENCY_STAFF, "staf-dspm", agency="dspm")
    puskesmas = tokens.bearer(Role.AGENCY_STAFF, "bidan", agency="puskesmas")
    mother = {"nik": "6474014505900001", "name": "Siti Aminah", "sex": "P",
              "birth_date": "1990-05-05", "relation": "kepala", "pregnant": True}  # fmt: skip
    async with start_system(settings_for, services=("registry", "referrals")) as system:
        registry, referrals = system.registry, system.referrals
        household_id = (
            await registry.post("/households", json=place("6474010101300021"), headers=rt)
        ).json()["id"]
        added = await registry.post(f"/households/{household_id}/members", json=mother)
        assert added.status_code == 201, added.text

        async def member_of(headers: dict[str, str]) -> dict[str, Any]:
            detail = (await registry.get(f"/households/{household_id}", headers=headers)).json()
            return {"stunted_children": detail["stunted_children"]} | detail["members"][0]

        assert (await member_of(lurah))["pregnant"] is True
        for headers in (rt, coordinator):
            seen = await member_of(headers)
            assert (seen["pregnant"], seen["disability"], seen["stunted_children"]) == (
                None, None, None
            )  # fmt: skip
            assert seen["name"] == "Siti Aminah"
        stunting = await registry.get("/households", params={"stunting": True}, headers=rt)
        assert stunting.status_code == 403

        for programme in ("dspm-bansos", "puskesmas-pmt"):
            await eventually(
                lambda p=programme: referrals.post(
                    "/referrals", json={"household_id": household_id, "programme": p},
                    headers=lurah,
                ),
                lambda r: r.status_code == 201,
            )  # fmt: skip

        async def added_event(headers: dict[str, str]) -> dict[str, Any]:
            page = await eventually(
                lambda: referrals.get(f"/households/{household_id}/timeline", headers=headers),
                lambda r: (
                    r.status_code == 200
                    and any(e["type"].endswith("member_added.v1") for e in r.json()["entries"])
                ),
            )
            (entry,) = [e for e in page.json()["entries"] if e["type"].endswith("member_added.v1")]
            data: dict[str, Any] = entry["data"]
            return data

        assert (await added_event(puskesmas))["pregnant"] is True
        assert (await added_event(lurah))["pregnant"] is True
        for headers in (dspm, coordinator):
            data = await added_event(headers)
            assert "pregnant" not in data and "disability" not in data
            assert data["relation"] == "kepala"


# --- API4 unrestricted resource consumption, API8 security misconfiguration ----------------


async def test_sizes_pages_and_rates_are_bounded(settings_for: Any) -> None:
    tally = Tally()
    lurah = tokens.bearer(Role.KELURAHAN, "lurah-cepat", kelurahan=LOK_TUAN)
    async with start_system(
        settings_for, services=("registry",), rate_limit_per_second=0.01, rate_limit_burst=20
    ) as system:
        registry = system.registry
        huge = place("6474010101300031") | {"address": "x" * 2_000_000}
        too_big = await registry.post("/households", json=huge)
        tally.expect("API4 resource consumption", too_big, 413)
        assert too_big.json()["pesan"] and too_big.json()["message"]
        endless = await registry.get("/households", params={"limit": 100_000})
        tally.expect("API4 resource consumption", endless, 422)
        assert endless.json()["errors"][0]["field"] == "limit"

        answers = [(await registry.get("/areas", headers=lurah)) for _ in range(40)]
        limited = [a for a in answers if a.status_code == 429]
        for answer in answers[20:]:
            tally.expect("API4 resource consumption", answer, 429)
        assert limited and int(limited[0].headers["Retry-After"]) >= 1
        assert "terlalu banyak permintaan" in limited[0].json()["pesan"]
        other = tokens.bearer(Role.KELURAHAN, "lurah-lain", kelurahan=API_API)
        assert (await registry.get("/areas", headers=other)).status_code == 200
        assert (await registry.get("/areas")).status_code == 200  # other services: unlimited
    tally.report()


async def test_answers_carry_security_headers_and_no_internals(
    settings_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.registry import areas

    def broken() -> None:
        raise RuntimeError("rahasia internal: password=hunter2")

    monkeypatch.setattr(areas, "tree", broken)
    async with start_system(settings_for, services=("registry",)) as system:
        # As a server would answer: the failure is the app's answer, not raised in the test.
        transport = httpx.ASGITransport(app=system.apps["registry"], raise_app_exceptions=False)
        registry = httpx.AsyncClient(
            transport=transport, base_url="http://registry", headers=tokens.SYSTEM
        )
        for answer in (
            await registry.get("/rulesets"),
            await registry.get("/rulesets", headers={"Authorization": ""}),
            await registry.get(f"/households/{uuid.uuid4()}"),
        ):
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["cache-control"] == "no-store"
            assert "default-src 'none'" in answer.headers["content-security-policy"]
        failed = await registry.get("/areas")
        assert failed.status_code == 500
        assert "hunter2" not in failed.text and "Traceback" not in failed.text
        assert failed.json()["pesan"]
        # CORS is closed: a browser on another site gets no permission to read answers.
        preflight = await registry.options(
            "/households",
            headers={"Origin": "https://jahat.example", "Access-Control-Request-Method": "GET"},
        )
        assert "access-control-allow-origin" not in preflight.headers


async def test_cors_opens_to_the_configured_console_only(settings_for: Any) -> None:
    console = "https://sinergi.bontangkota.go.id"
    async with start_system(settings_for, services=("registry",), cors_origins=[console]) as system:
        ask = {
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        }
        allowed = await system.registry.options("/households", headers={"Origin": console} | ask)
        assert allowed.headers["access-control-allow-origin"] == console
        evil = await system.registry.options(
            "/households", headers={"Origin": "https://jahat.example"} | ask
        )
        assert "access-control-allow-origin" not in evil.headers


async def test_a_remembered_token_still_expires() -> None:
    verifier = sinergi.auth.Remembered(
        sinergi.auth.KeyFileVerifier(tokens.KEY_FILE, issuer="sinergi-embedded", audience="sinergi")
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


async def test_every_read_of_a_household_or_its_timeline_is_recorded_for_the_auditor(
    settings_for: Any,
) -> None:
    lurah = tokens.bearer(Role.KELURAHAN, "lurah-lok-tuan", kelurahan=LOK_TUAN)
    kader = tokens.bearer(Role.KADER, "kader-mawar", kelurahan=LOK_TUAN)
    auditor = tokens.bearer(Role.AUDITOR, "inspektorat")
    async with start_system(settings_for, services=("registry", "referrals")) as system:
        registry, referrals = system.registry, system.referrals
        household_id = (await registry.post("/households", json=place("6474010101300041"))).json()[
            "id"
        ]
        timeline = f"/households/{household_id}/timeline"
        await eventually(
            lambda: referrals.get(timeline), lambda r: len(r.json()["entries"]) == 1
        )  # the system's own look, recorded too
        reads = [
            (registry, f"/households/{household_id}", lurah, "verifikasi"),
            (registry, f"/households/{household_id}", kader, None),
            (registry, "/households", lurah, "daftar RT"),
            (referrals, timeline, lurah, "rujukan"),
        ]
        for client, path, headers, purpose in reads:
            extra = {"X-Sinergi-Purpose": purpose} if purpose else {}
            assert (await client.get(path, headers=headers | extra)).status_code == 200
        live = await open_stream(system.apps["referrals"], f"{timeline}/stream", headers=lurah)
        assert live.status == 200
        await live.close()
        refused = await registry.get(f"/audit/reads?household_id={household_id}", headers=lurah)
        assert refused.status_code == 403

        async def recorded(client: Any, **query: Any) -> list[dict[str, Any]]:
            page = await client.get("/audit/reads", params=query, headers=auditor)
            items: list[dict[str, Any]] = page.json()["items"]
            return items

        in_registry = await recorded(registry, household_id=household_id)
        assert [(r["subject"], r["role"], r["resource"], r["purpose"]) for r in in_registry] == [
            ("lurah-lok-tuan", "kelurahan", "household", "verifikasi"),
            ("kader-mawar", "kader", "household", None),
        ]
        assert in_registry[0]["kelurahan"] == LOK_TUAN
        listed = await recorded(registry, subject="lurah-lok-tuan")
        assert [r["path"] for r in listed] == [f"/households/{household_id}", "/households"]
        in_referrals = await recorded(referrals, household_id=household_id)
        assert {r["subject"] for r in in_referrals if r["role"] == "system"} == {"uji-sistem"}
        seen_by = [(r["subject"], r["resource"], r["path"]) for r in in_referrals
                   if r["role"] != "system"]  # fmt: skip
        assert seen_by == [
            ("lurah-lok-tuan", "timeline", timeline),
            ("lurah-lok-tuan", "timeline", f"{timeline}/stream"),
        ]
        made = len(reads) + 1  # and the live stream
        logged = len(in_registry) + len(listed) - 1 + len(seen_by)  # the detail read is in both
        print(f"\naudit baca: {made} baca oleh pengguna, {logged} tercatat")
        assert logged == made


@pytest.mark.parametrize("in_child", [False, True], ids=["here", "own-process"])
async def test_an_rt_imports_its_own_rows_and_the_others_are_rejected_in_the_report(
    settings_for: Any, monkeypatch: pytest.MonkeyPatch, in_child: bool
) -> None:
    from services.registry import import_files
    from tests.integration.test_import import as_csv

    if in_child:  # a big upload is imported by `python -m services.registry.import_api`
        monkeypatch.setattr(import_files, "WORKER_MIN_BYTES", 1)
    rt = tokens.bearer(Role.RT, "rt-3-12", kelurahan=LOK_TUAN, rw=3, rt=12)
    rows = [
        {"no_kk": "6474010101300051", "nik": "", "nama": "Siti Aminah"},  # RT 3/12: its own
        {"no_kk": "6474010101300052", "nik": "", "nama": "Rina", "rt": 13},
        {"no_kk": "6474010101300053", "nik": "", "nama": "Dewi", "rw": 4},
        {"no_kk": "6474010101300054", "nik": "", "nama": "Ani", "kelurahan": "Api-Api"},
    ]
    async with start_system(settings_for, services=("registry",)) as system:
        answer = await system.registry.post(
            "/imports", files={"file": ("rt.csv", as_csv(rows), "text/csv")}, headers=rt
        )
        assert answer.status_code == 200, answer.text
        summary = answer.json()
        listed = (await system.registry.get("/households")).json()["items"]
    assert summary["households_created"] == 1
    assert [(r["row"], r["column"], r["rule"]) for r in summary["rejections"]] == [
        (3, "rt", "outside_area"),
        (4, "rw", "outside_area"),
        (5, "kelurahan", "outside_area"),
    ]
    assert [h["no_kk_masked"][-4:] for h in listed] == ["0051"]


async def test_the_duplicate_queue_and_nik_conflicts_are_the_kelurahans_own(
    settings_for: Any,
) -> None:
    tally = Tally()
    lok_tuan = tokens.bearer(Role.KELURAHAN, "lurah-lok-tuan", kelurahan=LOK_TUAN)
    api_api = tokens.bearer(Role.KELURAHAN, "lurah-api-api", kelurahan=API_API)
    selatan = tokens.bearer(Role.KECAMATAN, "camat-selatan", kecamatan="64.74.02")
    from tests.integration.test_duplicates import scanned, two_records_of_rizky

    async with start_system(settings_for, services=("registry",)) as system:
        registry = system.registry
        await two_records_of_rizky(system)  # two Lok Tuan households
        await scanned(registry)
        (candidate,) = (await registry.get("/duplicates")).json()["items"]
        cid = candidate["id"]
        assert (await registry.get(f"/duplicates/{cid}", headers=lok_tuan)).status_code == 200
        assert len((await registry.get("/duplicates", headers=lok_tuan)).json()["items"]) == 1
        for headers in (api_api, selatan):
            assert (await registry.get("/duplicates", headers=headers)).json()["items"] == []
            tally.expect(
                "API1 object level",
                await registry.get(f"/duplicates/{cid}", headers=headers),
                404,
            )
        decision = {"decision": "not_duplicate", "note": "orang lain", "officer": "Lurah Api-Api"}
        tally.expect(
            "API1 object level",
            await registry.post(f"/duplicates/{cid}/decision", json=decision, headers=api_api),
            404,
        )
        for asked in ({"kelurahan_code": LOK_TUAN}, {}):
            tally.expect(
                "API1 object level",
                await registry.post("/duplicates/scan", json=asked, headers=api_api),
                403,
            )
        foreign = await registry.get(
            "/duplicates", params={"kelurahan_code": LOK_TUAN}, headers=api_api
        )
        tally.expect("API1 object level", foreign, 403)
    tally.report()


async def test_a_persons_processing_trail_shows_what_is_held_and_who_read_it(
    settings_for: Any,
) -> None:
    from sinergi.trail import as_json, trail

    lurah = tokens.bearer(Role.KELURAHAN, "lurah-lok-tuan", kelurahan=LOK_TUAN)
    nik = "6474014505900001"
    siti = {"nik": nik, "name": "Siti Aminah", "sex": "P", "birth_date": "1990-05-05",
            "relation": "kepala"}  # fmt: skip
    async with start_system(settings_for, services=("registry", "referrals")) as system:
        registry, referrals = system.registry, system.referrals
        household_id = (await registry.post("/households", json=place("6474010101300061"))).json()[
            "id"
        ]
        assert (await registry.post(f"/households/{household_id}/members", json=siti)).is_success
        purpose = {"X-Sinergi-Purpose": "verifikasi"}
        await registry.get(f"/households/{household_id}", headers=lurah | purpose)
        await eventually(
            lambda: referrals.get(f"/households/{household_id}/timeline", headers=lurah),
            lambda r: r.status_code == 200,
        )
    registry_settings, referrals_settings = settings_for("registry"), settings_for("referrals")
    found = await trail(
        nik,
        registry_settings.database_url,
        referrals_settings.database_url,
        registry_schema=registry_settings.database_schema,
        referrals_schema=referrals_settings.database_schema,
    )
    assert [(m["name"], m["nik"]) for m in found["members"]] == [("Siti Aminah", nik)]
    assert [h["id"] for h in found["households"]] == [household_id]
    lurah_reads = [(r["service"], r["resource"], r["purpose"]) for r in found["reads"]
                   if r["subject"] == "lurah-lok-tuan"]  # fmt: skip
    assert lurah_reads[0] == ("registry", "household", "verifikasi")
    assert ("referrals", "timeline", None) in lurah_reads
    assert '"Siti Aminah"' in as_json(found)
    nobody = await trail("6474014505900099", registry_settings.database_url, None,
                         registry_schema=registry_settings.database_schema)  # fmt: skip
    assert nobody["members"] == [] and nobody["reads"] == []


async def test_registry_events_name_the_verified_caller_who_recorded_them(
    settings_for: Any,
) -> None:
    rt = tokens.bearer(Role.RT, "ketua-rt-1-1", kelurahan=LOK_TUAN, rw=1, rt=1)
    lurah = tokens.bearer(Role.KELURAHAN, "lurah-lok-tuan", kelurahan=LOK_TUAN)
    async with start_system(settings_for, services=("registry", "referrals")) as system:
        created = await system.registry.post(
            "/households", json=place("6474010101300071"), headers=rt
        )
        household_id = created.json()["id"]
        timeline = await eventually(
            lambda: system.referrals.get(f"/households/{household_id}/timeline", headers=lurah),
            # 404 until the referrals service has learnt the household's kelurahan.
            lambda r: r.status_code == 200 and len(r.json()["entries"]) == 1,
        )
    (entry,) = timeline.json()["entries"]
    assert entry["who"] == "rt:ketua-rt-1-1"
    assert entry["data"]["recorded_by"] == "rt:ketua-rt-1-1"
