"""Security: unrestricted resource consumption and security misconfiguration (OWASP API Top
10 2023: API4, API8). Request bodies, pages and each token's request rate are bounded; answers
carry the security headers and a failure never shows a stack trace or other internals; CORS is
closed unless it opens to the configured console's origin."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from sinergi.auth import Role
from tests import tokens
from tests.integration.security_helpers import API_API, LOK_TUAN, Tally, place
from tests.system import start_system

pytestmark = pytest.mark.integration


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
