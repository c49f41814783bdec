"""The console in a real browser: Playwright driving Debian's Chromium, against the system
started as `make up` starts it (`sinergi up`), with demo data. Screenshots of each page go to
`test-artifacts/console/`.

Chromium comes from the system (`apt-get install chromium`), never downloaded: without it these
tests are skipped, unless SINERGI_REQUIRE_BROWSER=1 (CI) makes that a failure.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from services.registry.areas import areas
from tests.integration.test_assessments import CITY, city_answers
from tests.integration.test_slice import household
from tests.integration.test_up import Up, poll, token_headers

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
PHONE = {"width": 390, "height": 844}

if CHROMIUM is None:
    if os.environ.get("SINERGI_REQUIRE_BROWSER") == "1":
        raise RuntimeError("SINERGI_REQUIRE_BROWSER=1 but no chromium: apt-get install chromium")
    pytest.skip("no chromium here (apt-get install chromium)", allow_module_level=True)

from axe_playwright_python.sync_playwright import Axe  # noqa: E402
from openpyxl import load_workbook  # noqa: E402
from playwright.sync_api import Browser, BrowserContext, Page, expect  # noqa: E402


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    data_dir = tmp_path_factory.mktemp("console") / "data"
    up = Up(data_dir)
    try:
        urls = up.wait_ready()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SINERGI_")}
        subprocess.run(
            [sys.executable, "-m", "sinergi.cli", "demo", "--households", "300",
             "--data-dir", str(data_dir)],
            check=True, capture_output=True, env=env, timeout=300,
        )  # fmt: skip
        settled(urls, token_headers(data_dir, "--role", "kelurahan", "--kelurahan", "Lok Tuan"))
        yield data_dir, urls
    finally:
        assert up.stop() == 0, "".join(up.output)


def settled(urls: dict[str, str], kelurahan: dict[str, str]) -> None:
    """Until the notifications service has caught up with the demo (its count stops moving)."""
    inbox = f"{urls['notifications']}/inbox?recipient=kelurahan:64.74.01.1003&limit=1"
    last, same = -1, 0
    deadline = time.monotonic() + 60
    while same < 3 and time.monotonic() < deadline:
        unread = httpx.get(inbox, headers=kelurahan, timeout=10).json()["unread"]
        same, last = (same + 1 if unread == last else 0), unread
        time.sleep(0.5)


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def accessible(page: Page) -> None:
    """axe-core's rules (labels, contrast, names, landmarks, …): no serious or critical finding."""
    results = Axe().run(page)
    found = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert found == [], "\n".join(found)


def sign_in(page: Page, console: str, name: str, role: str, **area: str) -> None:
    page.goto(f"{console}/masuk")
    page.get_by_label("Nama pengguna").fill(name)
    page.get_by_label("Peran").select_option(role)
    labels = {"kelurahan": "Kode kelurahan", "rw": "RW", "rt": "RT", "agency": "Kode instansi"}
    for field, value in area.items():
        page.get_by_label(labels[field], exact=field in ("rw", "rt")).fill(value)
    page.get_by_role("button", name="Masuk").click()


def on_phone(
    browser: Browser, console: str, name: str, role: str, **area: str
) -> tuple[BrowserContext, Page]:
    """A phone-sized browser signed in as `name`, the way RTs and cadres use the console."""
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    sign_in(page, console, name, role, **area)
    return context, page


def figure(page: Page, card: str | None, name: str) -> int:
    """A figure's number (a card's, or the page's when `card` is None), without the words
    that follow it for a screen reader."""
    where = "" if card is None else f'[data-kelurahan="{card}"] '
    shown = page.locator(f'{where}[data-figure="{name}"]').inner_text()
    return int(re.match(r"\d+", shown.strip()).group())  # type: ignore[union-attr]


def rows_of(page: Page, url: str, row: str) -> list[str]:
    """The `row` marks (e.g. `data-member`) of every row of a console list, following
    "Halaman berikutnya" to its last page."""
    page.goto(url)
    found: list[str] = []
    while True:
        rows = page.locator(f"table tr[{row}]")
        found += [r.get_attribute(row) or "" for r in rows.all()]
        following = page.get_by_role("link", name="Halaman berikutnya")
        if following.count() == 0:
            return found
        page.goto(urljoin(page.url, following.get_attribute("href")))


def test_a_coordinator_reads_the_100_day_dashboard_and_sees_it_update_live(
    system: tuple[Path, dict[str, str]], browser: Browser
) -> None:
    data_dir, urls = system
    page = browser.new_page()
    page.goto(urls["konsol"])
    expect(page).to_have_url(f"{urls['konsol']}/masuk")
    accessible(page)
    shot(page, "masuk")
    sign_in(page, urls["konsol"], "Koordinator TKPK", "coordinator")
    expect(page).to_have_url(f"{urls['konsol']}/dasbor")
    expect(page.get_by_role("heading", level=1)).to_contain_text("100 hari")
    expect(page.locator("#status")).to_contain_text("tersambung")

    # The page shows what the referrals service reports, for each priority kelurahan and the
    # city; the demo's kelurahan verified most households, so there is something to count.
    coordinator = token_headers(data_dir, "--role", "coordinator")
    report = httpx.get(f"{urls['referrals']}/reports/dashboard", headers=coordinator).json()
    for row in report["hundred_days"]:
        code = row["kelurahan_code"]
        assert figure(page, code, "now") == row["extreme_now"]
        assert figure(page, code, "at_start") == row["extreme_at_start"]
    assert report["hundred_days"][-1]["extreme_now"] > 0
    assert page.locator('tr[data-agency="dspm"] th').inner_text() != ""
    accessible(page)
    shot(page, "dasbor")

    # Keyboard: the first Tab reaches the skip link, which takes focus to the content.
    page.keyboard.press("Tab")
    expect(page.locator("a.skip")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    # A kader finds a stunted child in Lok Tuan: the dashboard counts it without a reload.
    before = figure(page, None, "stunting_found")
    kelurahan = token_headers(data_dir, "--role", "kelurahan", "--kelurahan", "Lok Tuan")
    home = httpx.post(
        f"{urls['registry']}/households", json=household("6474019999000001"), headers=kelurahan
    )
    assert home.status_code == 201, home.text
    child = httpx.post(
        f"{urls['registry']}/households/{home.json()['id']}/members",
        json={"name": "Putri Ayu", "sex": "P", "birth_date": "2023-05-10", "relation": "anak",
              "working": False},
        headers=kelurahan,
    )  # fmt: skip
    assert child.status_code == 201, child.text
    sent = time.perf_counter()
    measured = httpx.post(
        f"{urls['registry']}/households/{home.json()['id']}/members/{child.json()['id']}"
        "/measurements",
        json={"measured_on": "2026-11-20", "length_height_cm": 80.0, "position": "standing"},
        headers=kelurahan,
    )
    assert measured.json()["hfa_category"] in ("pendek", "sangat_pendek"), measured.text
    expect(page.locator('[data-figure="stunting_found"]')).to_have_text(
        re.compile(rf"^\s*{before + 1}\D")
    )
    print(f"event → dashboard updated in the browser: {time.perf_counter() - sent:.2f} s")
    shot(page, "dasbor-langsung")

    # The city's "now" opens its extreme-poor verified households.
    now = figure(page, "kota", "now")
    page.locator('[data-kelurahan="kota"] [data-figure="now"] a').click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Daftar rumah tangga")
    expect(page.locator('[data-table="rumah-tangga"] tr[data-household]')).to_have_count(
        min(now, 200)
    )
    accessible(page)
    page.go_back()

    # So do day 0 and graduated. A verified extreme-poor household assessed out of it counts
    # as graduated at once, and is on that list with its head's name.
    found = httpx.get(
        f"{urls['registry']}/households",
        params={"verification": "verified", "poverty_status": "miskin_ekstrem", "limit": 1},
        headers=coordinator,
    ).json()["items"][0]
    lurah = token_headers(data_dir, "--role", "kelurahan", "--kelurahan", found["kelurahan_code"])
    graduated = figure(page, "kota", "graduated")
    assessed = httpx.post(
        f"{urls['registry']}/households/{found['id']}/assessments",
        json={"ruleset": CITY, "answers": city_answers(2)}, headers=lurah,
    )  # fmt: skip
    assert assessed.json()["status"] == "tidak_miskin", assessed.text
    expect(page.locator('[data-kelurahan="kota"] [data-figure="graduated"]')).to_have_text(
        re.compile(rf"^\s*{graduated + 1}\D")
    )
    for name, heading in (("graduated", "Lulus dari miskin ekstrem"),
                          ("at_start", "Miskin ekstrem pada hari ke-0")):  # fmt: skip
        counted = figure(page, "kota", name)
        page.locator(f'[data-kelurahan="kota"] [data-figure="{name}"] a').click()
        expect(page.get_by_role("heading", level=1)).to_have_text(f"{heading} — Kota Bontang")
        rows = page.locator('[data-table="rumah-tangga"] tr[data-household]')
        expect(rows).to_have_count(min(counted, 50))
        if name == "graduated" and counted <= 50:
            expect(page.locator(f'tr[data-household="{found["id"]}"]')).to_contain_text(
                found["head_name"]
            )
            shot(page, "daftar-lulus")
        accessible(page)
        page.go_back()
    # A long list comes a page of 50 at a time. (The count from the service: the page that
    # going back shows may be the one cached before the graduation.)
    report = httpx.get(f"{urls['referrals']}/reports/dashboard", headers=coordinator).json()
    now = report["hundred_days"][-1]["extreme_now"]
    listed = f"{urls['konsol']}/daftar-100-hari?kelurahan=kota&kelompok=kini"
    page.goto(listed)
    expect(rows).to_have_count(min(now, 50))
    following = page.get_by_role("link", name="Halaman berikutnya")
    expect(following).to_have_count(1 if now > 50 else 0)
    if now > 50:
        following.click()
        expect(rows).to_have_count(min(now - 50, 50))
    else:  # the demo's city has fewer: a page after the first household holds the rest
        page.goto(f"{listed}&setelah={rows.first.get_attribute('data-household')}")
        expect(rows).to_have_count(now - 1)
    page.goto(f"{urls['konsol']}/dasbor")

    # Every count of the funnel opens the list behind it, and each referral its page.
    dspm = {f["agency"]: f for f in report["funnel"]}["dspm"]["by_status"]["requested"]
    assert dspm > 0
    page.locator('tr[data-agency="dspm"] td[data-status="requested"] a').click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Daftar rujukan")
    rows = page.locator('[data-table="rujukan"] tr[data-referral]')
    expect(rows).to_have_count(min(dspm, 200))
    expect(rows.first).to_contain_text("diminta")
    accessible(page)
    shot(page, "daftar-rujukan")
    rows.first.get_by_role("link").click()
    expect(page.locator('[data-field="status"]')).to_have_text("diminta")


def test_the_stunting_figures_and_the_overdue_rungs_open_the_lists_behind_them(
    system: tuple[Path, dict[str, str]], browser: Browser
) -> None:
    data_dir, urls = system
    konsol = urls["konsol"]
    coordinator = token_headers(data_dir, "--role", "coordinator")
    page = browser.new_page()
    sign_in(page, konsol, "Koordinator TKPK", "coordinator")
    expect(page).to_have_url(f"{konsol}/dasbor")

    # Stunted children are health data: behind a stunting figure the coordinator finds the
    # counts per kelurahan, adding up to it, and no child.
    found_link = page.locator('[data-figure="stunting_found"] a')
    expect(found_link).to_have_attribute("href", "/daftar-stunting")
    expect(page.locator('[data-figure="stunting_referred"] a')).to_have_attribute(
        "href", "/daftar-stunting?dirujuk=ya"
    )
    shown = int(re.match(r"\d+", found_link.inner_text()).group())  # type: ignore[union-attr]
    found_link.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("per kelurahan")
    expect(page.locator("[data-member]")).to_have_count(0)
    per_kelurahan = page.locator("td[data-found]").all_inner_texts()
    assert sum(int(n) for n in per_kelurahan) == shown > 0
    expect(page.locator('[data-total="found"]')).to_have_text(str(shown))
    accessible(page)
    shot(page, "stunting-per-kelurahan-koordinator")

    # Each overdue count opens the referrals at its rung of the ladder (the demo's referrals
    # are young: likely none yet, so the first rung's list is asked for as well).
    report = httpx.get(f"{urls['referrals']}/reports/dashboard", headers=coordinator).json()
    at_rung: dict[str, int] = {}
    for f in report["funnel"]:
        for level, n in f["overdue_by_level"].items():
            at_rung[level] = at_rung.get(level, 0) + n
    page.goto(f"{konsol}/dasbor")
    links = page.locator("ul.overdue li[data-level] a")
    expect(links).to_have_count(len(at_rung))
    rows = page.locator('[data-table="rujukan"] tr[data-referral]')
    for level in sorted(at_rung, key=int):
        page.locator(f'ul.overdue li[data-level="{level}"] a').click()
        expect(page.locator("p.note")).to_contain_text(f"(tingkat eskalasi {level})")
        expect(rows).to_have_count(min(at_rung[level], 200))
        page.go_back()
    page.goto(f"{konsol}/daftar-rujukan?overdue=true&tingkat=1")
    expect(page.locator("p.note")).to_contain_text("terlambat sampai Ketua RT (tingkat eskalasi 1)")
    expect(rows).to_have_count(min(at_rung.get("1", 0), 200))
    accessible(page)
    page.close()

    # The kelurahan read their own children: together, each list adds up to its figure.
    figures = report["stunting"]
    assert figures["children_found"] > 0
    counted = {"": 0, "ya": 0, "tidak": 0}
    for code, area in areas().items():
        if area.level != "kelurahan":
            continue
        context = browser.new_context()
        page = context.new_page()
        sign_in(page, konsol, f"Lurah {area.name}", "kelurahan", kelurahan=code)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        for dirujuk in counted:
            counted[dirujuk] += len(
                rows_of(page, f"{konsol}/daftar-stunting?dirujuk={dirujuk}", "data-member")
            )
        if code == "64.74.01.1003":  # Lok Tuan: each row names its head and opens the case
            page.goto(f"{konsol}/daftar-stunting")
            expect(page.get_by_role("heading", level=1)).to_have_text("Anak stunting ditemukan")
            first = page.locator("table tr[data-member]").first
            expect(first).not_to_contain_text("Tanpa nama di registry")
            accessible(page)
            shot(page, "daftar-stunting")
            after = first.get_attribute("data-member")
            total = page.locator("table tr[data-member]").count()
            page.goto(f"{konsol}/daftar-stunting?setelah={after}")  # the page after the first
            expect(page.locator("table tr[data-member]")).to_have_count(total - 1)
            page.goto(f"{konsol}/daftar-stunting")
            household = first.get_attribute("data-household")
            first.get_by_role("link").click()
            expect(page).to_have_url(f"{konsol}/rumah-tangga/{household}")
        context.close()
    again = httpx.get(f"{urls['referrals']}/reports/dashboard", headers=coordinator).json()
    assert again["stunting"] == figures, "the figures moved while the lists were read"
    assert counted == {
        "": figures["children_found"],
        "ya": figures["children_referred"],
        "tidak": figures["children_found"] - figures["children_referred"],
    }


def test_the_dashboard_is_for_coordinators_and_the_console_works_on_a_phone(
    system: tuple[Path, dict[str, str]], browser: Browser
) -> None:
    _, urls = system
    context, page = on_phone(
        browser, urls["konsol"], "Pak Rahmat", "rt", kelurahan="64.74.01.1003", rw="3", rt="12"
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("Lapangan")
    accessible(page)
    shot(page, "lapangan-rt-ponsel")
    # An RT is not shown the city's dashboard, nor its live stream.
    page.goto(f"{urls['konsol']}/dasbor")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tidak diizinkan")
    assert page.request.get(f"{urls['konsol']}/dasbor/langsung").status == 401
    # Signing out forgets the session.
    page.goto(urls["konsol"])
    page.get_by_role("button", name="Keluar").click()
    expect(page).to_have_url(f"{urls['konsol']}/masuk")
    context.close()


def test_a_wrong_sign_in_says_what_is_missing(
    system: tuple[Path, dict[str, str]], browser: Browser
) -> None:
    _, urls = system
    page = browser.new_page()
    sign_in(page, urls["konsol"], "Bu Sari", "agency_staff")  # no agency named
    expect(page.get_by_role("alert")).to_contain_text("agency")
    # The sign-in mints people's roles only, never the services' own `system`.
    posted = page.request.post(f"{urls['konsol']}/masuk", form={"name": "x", "role": "system"})
    assert posted.status == 422
    assert "sinergi_sesi" not in {c["name"] for c in page.context.cookies()}


def test_an_agency_receives_accepts_and_completes_a_referral_and_a_stale_form_is_refused(
    system: tuple[Path, dict[str, str]], browser: Browser
) -> None:
    _, urls = system
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, urls["konsol"], "Bu Sari", "agency_staff", agency="dspm")
    expect(page).to_have_url(f"{urls['konsol']}/antrean")
    expect(page.get_by_role("heading", level=1)).to_contain_text("dspm")
    accessible(page)
    shot(page, "antrean-dspm")
    page.locator("tr[data-referral] a").first.click()
    expect(page.locator('[data-field="status"]')).to_have_text("diminta")
    stale = page.url

    page.get_by_role("button", name="Terima rujukan").click()
    expect(page.locator('[data-field="status"]')).to_have_text("diterima")
    # A second tab still showing the old version cannot step over what was done meanwhile.
    other = context.new_page()
    other.goto(stale)
    page.get_by_role("button", name="Setujui").click()
    expect(page.locator('[data-field="status"]')).to_have_text("disetujui")
    other.get_by_role("button", name="Tolak").scroll_into_view_if_needed()
    other.get_by_label("Alasan (tolak)").fill("Sudah menerima bantuan serupa")
    other.get_by_role("button", name="Tolak").click()
    expect(other.get_by_role("alert")).to_be_visible()
    shot(other, "rujukan-versi-usang")
    other.close()

    page.get_by_role("button", name="Mulai layanan").click()
    expect(page.locator('[data-field="status"]')).to_have_text("dikerjakan")
    accessible(page)
    shot(page, "rujukan-dikerjakan")
    page.get_by_label("Yang diberikan atau dilakukan").fill("Bantuan sembako 3 bulan")
    page.get_by_label("Jumlah (rupiah), bila ada").fill("900000")
    page.get_by_role("button", name="Selesaikan").click()
    expect(page.locator('[data-field="status"]')).to_have_text("selesai")
    expect(page.locator('[data-field="outcome"]')).to_contain_text("Bantuan sembako 3 bulan")
    shot(page, "rujukan-selesai")


def test_a_kelurahan_reads_its_inbox_opens_a_case_and_filters_its_timeline(
    system: tuple[Path, dict[str, str]], browser: Browser
) -> None:
    _, urls = system
    page = browser.new_page()
    sign_in(page, urls["konsol"], "Bu Lurah", "kelurahan", kelurahan="64.74.01.1003")
    badge = page.locator("[data-unread]")
    unread = int(badge.get_attribute("data-unread") or 0)
    assert unread > 0  # the demo registered households in Lok Tuan: the kelurahan heard
    page.get_by_role("link", name="Kotak masuk").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Kotak masuk")
    accessible(page)
    shot(page, "kotak-masuk")

    page.get_by_role("link", name="Lihat kasus").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Kasus rumah tangga")
    expect(page.locator('[data-field="head_name"]')).not_to_be_empty()
    expect(page.locator('[data-event="household_registered"]')).to_have_count(1)
    assert page.locator(".timeline li").count() >= 2  # registered, members, assessment, …
    accessible(page)
    shot(page, "kasus")
    page.get_by_label("Jenis kejadian").select_option("household_registered")
    page.get_by_role("button", name="Saring").click()
    expect(page.locator(".timeline li")).to_have_count(1)

    page.goto(f"{urls['konsol']}/kotak-masuk")
    shown_unread = page.locator("li.unread").count()
    page.get_by_role("button", name="Tandai semua dibaca").click()
    expect(page.locator("li.unread")).to_have_count(0)
    after = page.locator("[data-unread]")
    left = int(after.get_attribute("data-unread") or 0) if after.count() else 0
    assert left == unread - shown_unread


def households_with_kk(urls: dict[str, str], data_dir: Path, no_kk: str) -> list[dict[str, Any]]:
    headers = token_headers(data_dir, "--role", "kelurahan", "--kelurahan", "Lok Tuan")
    found = httpx.get(
        f"{urls['registry']}/households", headers=headers,
        params={"kelurahan_code": "64.74.01.1003", "rw": 4, "rt": 7, "limit": 200},
    ).json()["items"]  # fmt: skip
    return [h for h in found if h["no_kk_masked"].endswith(no_kk[-4:])]


def test_an_rt_registers_a_household_on_a_phone_through_a_dropped_connection_sent_once(
    system: tuple[Path, dict[str, str]], browser: Browser
) -> None:
    data_dir, urls = system
    context, page = on_phone(
        browser, urls["konsol"], "Pak Joko", "rt", kelurahan="64.74.01.1003", rw="4", rt="7"
    )
    page.get_by_role("link", name="Daftarkan rumah tangga").click()
    form = {"No. KK (16 digit)": "6474017777000001", "Alamat": "Jl. Cendana Gg. 3 No. 9",
            "Nama kepala keluarga": "Rusmini"}  # fmt: skip
    for label, value in form.items():
        page.get_by_label(label).fill(value)
    accessible(page)
    shot(page, "daftar-rumah-tangga-ponsel")

    # The signal drops as the RT sends: the form waits on the phone, nothing is lost.
    context.set_offline(True)
    page.get_by_role("button", name="Kirim").click()
    expect(page.locator("#antrean-status")).to_have_attribute("data-pending", "1")
    assert households_with_kk(urls, data_dir, "6474017777000001") == []
    shot(page, "daftar-rumah-tangga-tersimpan")

    # Back online, the first try reaches the registry but its answer is lost on the way: the
    # phone sends again with the same key, and the registry applies it once.
    lost = {"n": 0}

    def lose_first_answer(route: Any) -> None:
        if lost["n"] == 0:
            lost["n"] += 1
            route.fetch()  # the registry gets it…
            route.abort("connectionreset")  # …the phone does not hear back
        else:
            route.continue_()

    page.route("**/lapangan/kirim/**", lose_first_answer)
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("#antrean-status")).to_have_attribute("data-pending", "0", timeout=20000)
    expect(page.locator('[data-hasil="rumah-tangga"]')).to_contain_text("Terkirim")
    assert lost["n"] == 1
    assert len(households_with_kk(urls, data_dir, "6474017777000001")) == 1
    shot(page, "daftar-rumah-tangga-terkirim")

    # A typed form survives closing the page before sending.
    page.get_by_role("link", name="Tambah anggota").click()
    page.get_by_label("Nama lengkap (sesuai KK)").fill("Rusmini")
    page.reload()
    expect(page.get_by_label("Nama lengkap (sesuai KK)")).to_have_value("Rusmini")
    # Another user of the same phone sees neither this RT's drafts nor its queue.
    keys = page.evaluate("Object.keys(localStorage)")
    assert keys and all(":rt:Pak Joko" in k for k in keys), keys

    # The assessment of the city's ruleset: ten of its thirteen indicators met is extreme.
    page.get_by_role("link", name="Nilai kemiskinan").click()
    expect(page.get_by_label("Aturan")).to_have_value("bontang-2024-13.v1")
    boxes = page.locator('#penilaian input[type="checkbox"]')
    expect(boxes).to_have_count(13)
    for n in range(10):
        boxes.nth(n).check()
    accessible(page)
    shot(page, "penilaian-ponsel")
    page.get_by_role("button", name="Kirim penilaian").click()
    expect(page.locator('[data-hasil="penilaian"]')).to_contain_text("Status: miskin ekstrem")
    expect(page.locator('[data-hasil="penilaian"]')).to_contain_text("kriteria terpenuhi: 10")
    context.close()


def test_a_kader_records_a_measurement_and_sees_the_z_score_at_once(
    system: tuple[Path, dict[str, str]], browser: Browser
) -> None:
    data_dir, urls = system
    kelurahan = token_headers(data_dir, "--role", "kelurahan", "--kelurahan", "Lok Tuan")
    home = httpx.post(
        f"{urls['registry']}/households", json=household("6474018888000001"), headers=kelurahan
    ).json()
    httpx.post(
        f"{urls['registry']}/households/{home['id']}/members",
        json={"name": "Bagas Pratama", "sex": "L", "birth_date": "2024-02-03", "relation": "anak"},
        headers=kelurahan,
    ).raise_for_status()
    context, page = on_phone(
        browser, urls["konsol"], "Bu Nurhayati", "kader", kelurahan="64.74.01.1003"
    )
    page.goto(f"{urls['konsol']}/lapangan/rumah-tangga/{home['id']}")
    page.get_by_label("Panjang/tinggi badan (cm)").fill("72")
    page.get_by_label("Berat badan (kg)").fill("8,1")
    page.get_by_role("button", name="Kirim pengukuran").click()
    expect(page.locator('[data-hasil="ukur"]')).to_contain_text("kategori: sangat pendek")
    expect(page.locator('[data-hasil="ukur"]')).to_contain_text("z = -")
    accessible(page)
    shot(page, "ukur-anak-ponsel")
    # The case page draws the child against the WHO lines, the new measurement on it.
    page.goto(f"{urls['konsol']}/rumah-tangga/{home['id']}")
    chart = page.get_by_role("img", name=re.compile("Bagas Pratama"))
    expect(chart.locator("circle[data-measurement]")).to_have_count(1)
    expect(chart.locator("polyline")).to_have_count(5)
    accessible(page)
    shot(page, "pertumbuhan-anak-ponsel")
    context.close()


def test_the_kelurahan_verifies_returns_with_a_note_and_decides_a_duplicate(
    system: tuple[Path, dict[str, str]], browser: Browser
) -> None:
    data_dir, urls = system
    rt = token_headers(data_dir, "--role", "rt", "--kelurahan", "Lok Tuan", "--rw", "5",
                       "--rt", "2")  # fmt: skip
    submitted = []
    for n in (1, 2):
        created = httpx.post(
            f"{urls['registry']}/households", headers=rt,
            json=household(f"647401555500000{n}", rw=5, rt=2, head_name=f"Kepala Uji {n}"),
        )  # fmt: skip
        assert created.status_code == 201, created.text
        submitted.append(created.json()["id"])
    # The same child registered in both households, without NIK: a suspected duplicate.
    twin = {"name": "Aisyah Putri Ramadhani", "sex": "P", "birth_date": "2022-04-18",
            "relation": "anak"}  # fmt: skip
    for household_id in submitted:
        httpx.post(
            f"{urls['registry']}/households/{household_id}/members", json=twin, headers=rt
        ).raise_for_status()
        sent = httpx.post(f"{urls['registry']}/households/{household_id}/submit", headers=rt)
        assert sent.status_code == 200, sent.text
    page = browser.new_page()
    sign_in(page, urls["konsol"], "Bu Lurah", "kelurahan", kelurahan="64.74.01.1003")
    expect(page).to_have_url(f"{urls['konsol']}/meja")
    first, second = (page.locator(f'tr[data-household="{h}"]') for h in submitted)
    accessible(page)
    shot(page, "meja-verifikasi")
    first.get_by_role("button", name="Verifikasi").click()
    expect(first).to_have_count(0)
    second.get_by_label("Catatan untuk RT").fill("Alamat belum lengkap: nomor rumah?")
    second.get_by_role("button", name="Kembalikan").click()
    expect(second).to_have_count(0)
    page.get_by_role("link", name="Dikembalikan ke RT").click()
    expect(page.locator(f'tr[data-household="{submitted[1]}"]')).to_contain_text(
        "Alamat belum lengkap"
    )
    verified = httpx.get(f"{urls['registry']}/households/{submitted[0]}", headers=rt).json()
    assert verified["verification"] == "verified"

    # Suspected duplicates side by side: "not a duplicate", with the officer's note.
    kelurahan = token_headers(data_dir, "--role", "kelurahan", "--kelurahan", "Lok Tuan")
    ours = poll(
        f"{urls['registry']}/duplicates?limit=200",
        lambda r: any(
            d["left"]["name"] == twin["name"] and d["right"]["name"] == twin["name"]
            for d in r.json()["items"]
        ),
        kelurahan,
        timeout=60,
    )
    candidate = next(d["id"] for d in ours.json()["items"] if d["left"]["name"] == twin["name"])
    page.get_by_role("link", name="Dugaan data ganda").click()
    pair = page.locator(f'article[data-candidate="{candidate}"]')
    expect(pair).to_contain_text(twin["name"])
    accessible(page)
    shot(page, "meja-data-ganda")
    pair.get_by_label("Bukan data ganda").check()
    pair.get_by_label("Catatan keputusan").fill("Dua orang berbeda, dicek ke KK")
    pair.get_by_role("button", name="Simpan keputusan").click()
    expect(page.locator(f'article[data-candidate="{candidate}"]')).to_have_count(0)


def test_the_contribution_report_counts_per_rt_and_per_kader_and_downloads_as_xlsx(
    system: tuple[Path, dict[str, str]], browser: Browser
) -> None:
    data_dir, urls = system
    # A kader's visit in RT 6/1 of Lok Tuan, today: on the report for the RT and for her.
    rt = token_headers(data_dir, "--role", "rt", "--kelurahan", "Lok Tuan", "--rw", "6",
                       "--rt", "1")  # fmt: skip
    home = httpx.post(
        f"{urls['registry']}/households", json=household("6474016666000001", rw=6, rt=1),
        headers=rt,
    ).json()  # fmt: skip
    kader = token_headers(data_dir, "--role", "kader", "--kelurahan", "Lok Tuan", "--subject",
                          "Bu Wati")  # fmt: skip
    visit = {"visited_on": "2026-11-28", "visitor": "Bu Wati", "note": "Sehat"}
    visited = httpx.post(f"{urls['registry']}/households/{home['id']}/visits", json=visit,
                         headers=kader)  # fmt: skip
    assert visited.status_code == 201, visited.text
    page = browser.new_page(accept_downloads=True)
    sign_in(page, urls["konsol"], "Koordinator TKPK", "coordinator")
    page.get_by_role("link", name="Laporan kontribusi").click()
    row = (
        page.locator('[data-table="per-rt"] tr', has_text="64.74.01.1003")
        .filter(has=page.locator("td:nth-child(2)", has_text="6"))
        .filter(has=page.locator("td:nth-child(3)", has_text="1"))
    )
    expect(row.first).to_be_visible()
    expect(page.locator('[data-table="per-kader"]')).to_contain_text("kader:Bu Wati")
    accessible(page)
    shot(page, "laporan-kontribusi")
    with page.expect_download() as downloaded:
        page.get_by_role("link", name="Unduh XLSX").click()
    assert downloaded.value.suggested_filename.endswith(".xlsx")
    book = load_workbook(io.BytesIO(Path(downloaded.value.path()).read_bytes()))
    assert book.sheetnames == ["Per RT", "Per kader"]
    people = {row[0]: row[1:] for row in book["Per kader"].iter_rows(values_only=True)}
    assert people["kader:Bu Wati"][0] >= 1  # her visit


def test_an_rt_uploads_a_spreadsheet_and_reads_its_row_report(
    system: tuple[Path, dict[str, str]], browser: Browser, tmp_path: Path
) -> None:
    _, urls = system
    sheet = tmp_path / "rt-8-2.csv"
    sheet.write_text(
        "no_kk,kelurahan,rw,rt,alamat,nama_kepala,nama,jenis_kelamin,tanggal_lahir,hubungan\n"
        "6474014444000001,Lok Tuan,8,2,Jl. Bakau No. 1,Hasanah,Hasanah,P,1985-02-11,kepala\n"
        "6474014444000002,Lok Tuan,8,2,Jl. Bakau No. 2,Darto,Darto,X,1979-07-30,kepala\n",
        encoding="utf-8",
    )
    context, page = on_phone(
        browser, urls["konsol"], "Pak Made", "rt", kelurahan="64.74.01.1003", rw="8", rt="2"
    )
    page.get_by_role("link", name="Unggah spreadsheet RT").click()
    page.get_by_label("Berkas (.xlsx atau .csv)").set_input_files(sheet)
    accessible(page)
    page.get_by_role("button", name="Unggah").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Laporan impor rt-8-2.csv")
    expect(page.locator('[data-figure="rows"]')).to_have_text("2")
    expect(page.locator('[data-figure="households_created"]')).to_have_text("1")
    expect(page.locator('[data-figure="rejected"]')).to_have_text("1")
    rejected = page.locator('[data-table="ditolak"] tbody tr')
    expect(rejected).to_have_count(1)
    expect(rejected.first).to_contain_text("jenis_kelamin")
    accessible(page)
    shot(page, "laporan-impor-ponsel")
    with page.expect_download() as downloaded:
        page.get_by_role("link", name="Unduh laporan lengkap (CSV)").click()
    assert "jenis_kelamin" in Path(downloaded.value.path()).read_text(encoding="utf-8")
    context.close()


def test_an_upload_without_signal_waits_on_the_phone_and_is_applied_once(
    system: tuple[Path, dict[str, str]], browser: Browser, tmp_path: Path
) -> None:
    data_dir, urls = system
    sheet = tmp_path / "rt-4-7.csv"
    sheet.write_text(
        "no_kk,kelurahan,rw,rt,alamat,nama_kepala,nama,jenis_kelamin,tanggal_lahir,hubungan\n"
        "6474015555000011,Lok Tuan,4,7,Jl. Cemara No. 5,Sulastri,Sulastri,P,1990-04-02,kepala\n",
        encoding="utf-8",
    )
    context, page = on_phone(
        browser, urls["konsol"], "Bu Ani", "rt", kelurahan="64.74.01.1003", rw="4", rt="7"
    )
    page.goto(f"{urls['konsol']}/lapangan/unggah")

    # No signal as the RT uploads: the file stays on the phone, even with the page closed.
    context.set_offline(True)
    page.get_by_label("Berkas (.xlsx atau .csv)").set_input_files(sheet)
    page.get_by_role("button", name="Unggah").click()
    status = page.locator("#unggah-status")
    expect(status).to_have_attribute("data-pending", "1")
    expect(status).to_contain_text("rt-4-7.csv")
    shot(page, "unggah-tersimpan")
    page.close()
    assert households_with_kk(urls, data_dir, "6474015555000011") == []

    # Back online on a new page, the first try reaches the console but its answer is lost:
    # the phone sends the file again, and the registry adds its household once.
    context.set_offline(False)
    page = context.new_page()
    lost = {"n": 0}

    def lose_first_answer(route: Any) -> None:
        if route.request.method == "POST" and lost["n"] == 0:
            lost["n"] += 1
            route.fetch()
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/lapangan/unggah", lose_first_answer)
    page.goto(f"{urls['konsol']}/lapangan/unggah")
    page.evaluate("window.dispatchEvent(new Event('online'))")  # not waiting for the 10-s retry
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        "Laporan impor rt-4-7.csv", timeout=20000
    )
    assert lost["n"] == 1
    expect(page.locator('[data-figure="rows"]')).to_have_text("1")
    assert len(households_with_kk(urls, data_dir, "6474015555000011")) == 1
    shot(page, "unggah-terkirim")
    page.goto(f"{urls['konsol']}/lapangan/unggah")
    expect(page.locator("#unggah-status")).to_have_attribute("data-pending", "0")
    context.close()
