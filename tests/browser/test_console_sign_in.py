"""Signing in to the console at an OIDC provider, as a city deployment does: the system started
as `make up` starts it, told to trust a real provider (nanoidp: authorization code with PKCE,
JWKS, JWT access tokens) instead of the built-in issuer. The provider's access token is what
the console then sends to the services, so the dashboard reading its figures proves the
services take it too.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sinergi.natsserver import free_port
from tests.browser.test_console import CHROMIUM, accessible, shot
from tests.integration.test_up import Up

pytestmark = pytest.mark.integration

assert CHROMIUM is not None  # test_console skips the module when there is none
from playwright.sync_api import Browser, Page, expect  # noqa: E402

CLIENT, SECRET = "sinergi-konsol", "rahasia-uji"
USERS = """\
config_version: 1
users:
  koordinator-tkpk:
    password: "sandi-koordinator"
    attributes: {role: coordinator}
  rt-lok-tuan:
    password: "sandi-rt"
    attributes: {role: rt, kelurahan: "64.74.01.1003", rw: 2, rt: 3}
  tamu:
    password: "sandi-tamu"
"""


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """nanoidp on a free port; its loopback redirect URIs match any port (RFC 8252 §7.3)."""
    config = tmp_path_factory.mktemp("oidc") / "config"
    config.mkdir()
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    (config / "settings.yaml").write_text(
        f"""\
config_version: 1
server: {{host: "127.0.0.1", port: {port}}}
oauth:
  issuer: "{issuer}"
  audience: "sinergi"
  token_expiry_minutes: 60
  require_pkce: true
  refresh_token_rotation: true  # an old refresh token is refused: renew once per token
  clients:
    - client_id: "{CLIENT}"
      client_secret: "{SECRET}"
      redirect_uris: ["http://127.0.0.1:8100/masuk/kembali"]
"""
    )
    (config / "users.yaml").write_text(USERS)
    process = subprocess.Popen(
        [sys.executable, "-m", "nanoidp", "--config", str(config), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        cwd=config.parent,  # where it makes its signing keys (./keys)
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{issuer}/.well-known/openid-configuration").is_success:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "nanoidp did not start"
            time.sleep(0.2)
        yield issuer
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def console(provider: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    jwks = httpx.get(f"{provider}/.well-known/openid-configuration").json()["jwks_uri"]
    up = Up(
        tmp_path_factory.mktemp("oidc-system") / "data",
        {
            "SINERGI_AUTH_JWKS_URL": jwks,
            "SINERGI_AUTH_ISSUER": provider,
            "SINERGI_AUTH_CLAIMS_OBJECT": "attributes",  # where nanoidp puts user attributes
            "SINERGI_CONSOLE_OIDC_CLIENT_ID": CLIENT,
            "SINERGI_CONSOLE_OIDC_CLIENT_SECRET": SECRET,
        },
    )
    try:
        yield up.wait_ready()["konsol"]
    finally:
        assert up.stop() == 0, "".join(up.output)


def sign_in_at_provider(page: Page, console: str, username: str, password: str) -> None:
    page.goto(console)
    expect(page).to_have_url(f"{console}/masuk")
    page.get_by_role("link", name="Masuk dengan akun Kota Bontang").click()
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("button[type=submit]").click()


def test_people_sign_in_at_the_city_provider_and_work_with_its_token(
    console: str, browser: Browser
) -> None:
    page = browser.new_page()
    page.goto(f"{console}/masuk")
    expect(page.get_by_label("Nama pengguna")).to_have_count(0)  # no built-in sign-in here
    accessible(page)
    shot(page, "masuk-oidc")

    # A coordinator comes back to the dashboard, whose figures the referrals service gave
    # the console for the provider's token.
    sign_in_at_provider(page, console, "koordinator-tkpk", "sandi-koordinator")
    expect(page).to_have_url(f"{console}/dasbor")
    expect(page.locator("header .who")).to_contain_text("koordinator-tkpk · Koordinator")
    expect(page.locator('[data-kelurahan="kota"] [data-figure="now"]')).to_be_visible()

    # The access token runs out (the browser drops its cookie): the refresh token renews the
    # session before the page is made, and the dashboard still opens.
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["sinergi_segar"]["httpOnly"] and cookies["sinergi_sesi"]["httpOnly"]
    page.context.clear_cookies(name="sinergi_sesi")
    # Three requests at once with the old refresh token: one renewal serves them all.
    statuses = page.evaluate(
        "Promise.all([1, 2, 3].map(() => fetch('/dasbor/panel', {redirect: 'manual'})))"
        ".then(answers => answers.map(a => a.status))"
    )
    assert statuses == [200, 200, 200]
    page.goto(f"{console}/dasbor")
    expect(page).to_have_url(f"{console}/dasbor")
    renewed = {c["name"]: c["value"] for c in page.context.cookies()}
    assert renewed["sinergi_sesi"] != cookies["sinergi_sesi"]["value"]

    # Signing out ends the provider's session too, and comes back to the sign-in page.
    page.get_by_role("button", name="Keluar").click()
    expect(page).to_have_url(f"{console}/masuk")
    page.goto(f"{console}/dasbor")
    expect(page).to_have_url(f"{console}/masuk")
    assert {c["name"] for c in page.context.cookies()} & {"sinergi_sesi", "sinergi_segar"} == set()

    # An RT's account carries its area: its home is the field forms.
    sign_in_at_provider(page, console, "rt-lok-tuan", "sandi-rt")
    expect(page).to_have_url(f"{console}/lapangan")
    expect(page.locator("header .who")).to_contain_text("rt-lok-tuan · Ketua RT")

    # An account without a Sinergi role is told so, and gets no session.
    fresh = browser.new_page()
    sign_in_at_provider(fresh, console, "tamu", "sandi-tamu")
    expect(fresh.get_by_role("alert")).to_contain_text("belum bisa memakai Sinergi")
    fresh.goto(f"{console}/dasbor")
    expect(fresh).to_have_url(f"{console}/masuk")


def test_a_callback_the_browser_did_not_start_is_refused(console: str) -> None:
    """Login CSRF: a code sent to someone else's browser (no pending sign-in, or another
    state) does not sign that browser in."""
    with httpx.Client(base_url=console) as client:
        answer = client.get("/masuk/kembali", params={"code": "x", "state": "y"})
        assert answer.status_code == 400
        assert "sesi masuk tidak cocok" in answer.text
        assert "sinergi_sesi" not in answer.cookies

        started = client.get("/masuk/oidc")
        assert started.status_code == 303
        assert "code_challenge_method=S256" in started.headers["location"]
        answer = client.get("/masuk/kembali", params={"code": "x", "state": "forged"})
        assert answer.status_code == 400
        assert "sinergi_sesi" not in answer.cookies

        # The right state with a code the provider never gave: refused by the provider.
        started = client.get("/masuk/oidc")
        state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
        answer = client.get("/masuk/kembali", params={"code": "made-up", "state": state})
        assert answer.status_code == 400
        assert "penukaran kode gagal" in answer.text
        assert "sinergi_sesi" not in answer.cookies

        refused = client.get("/masuk/kembali", params={"error": "access_denied"})
        assert refused.status_code == 400
        assert "penyedia login menolak" in refused.text
