"""The coordinators' reports: the 100 days, the stunted children, overdue referrals by rung
and contributions, each figure beside the list behind it."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from services.referrals import directory as directories
from services.referrals import reports, sla
from services.referrals.directory import SHIPPED, WITA
from sinergi.auth import Role
from tests import tokens
from tests.integration.security_helpers import API_API
from tests.integration.test_assessments import CITY, city_answers
from tests.integration.test_referrals import (
    a_stunted_child,
    extreme_of,
    fast_directory,
    known_household,
    merged_into_a_copy,
    refer,
)
from tests.integration.test_registry import registered
from tests.integration.test_slice import LOK_TUAN, household
from tests.system import System, eventually, start_system

pytestmark = pytest.mark.integration


async def test_the_hundred_days_count_verified_extreme_households_now_and_graduated(
    settings_for: Any,
) -> None:
    async with start_system(settings_for, services=("registry", "referrals")) as system:
        ids = [await registered(system.registry, f"647401010120000{n}") for n in range(1, 4)]
        for household_id in ids:
            assert (await extreme_of(system, household_id)).status_code == 201
        for household_id in ids[:2]:  # the third is never verified: it does not count
            for action in ("submit", "verify"):
                response = await system.registry.post(f"/households/{household_id}/{action}")
                assert response.status_code == 200, response.text
        graduated = await system.registry.post(
            f"/households/{ids[0]}/assessments",
            json={"ruleset": CITY, "answers": city_answers(2)},
        )
        assert graduated.json()["status"] == "tidak_miskin"
        report = await eventually(
            lambda: system.referrals.get("/reports/hundred-days"),
            lambda r: {x["kelurahan_code"]: x for x in r.json()}[LOK_TUAN]["graduated"] == 1,
        )
        lok_tuan = {x["kelurahan_code"]: x for x in report.json()}[LOK_TUAN]
        # Assessed after day 0: none was extreme at the start; one still is, one graduated.
        assert (lok_tuan["extreme_at_start"], lok_tuan["extreme_now"], lok_tuan["graduated"]) == (
            0,
            1,
            1,
        )
        assert lok_tuan["target"] == 0
        city = {x["kelurahan_code"]: x for x in report.json()}["kota"]
        assert city["extreme_now"] == 1
        # The burndown ends where the figures are now, for the kelurahan and the city.
        dashboard = (await system.referrals.get("/reports/dashboard")).json()
        assert dashboard["burndown"][LOK_TUAN][-1] == 1
        assert dashboard["burndown"]["kota"][-1] == 1
        assert dashboard["burndown"][LOK_TUAN][0] == lok_tuan["extreme_at_start"]
        assert dashboard["hundred_days"] == report.json()


async def verified_household(
    system: System, no_kk: str, *met: int, kelurahan: str = LOK_TUAN
) -> str:
    """A verified household of `kelurahan`, assessed in turn with each count of the city's
    criteria met (13: extreme poor; 2: not poor)."""
    created = await system.registry.post(
        "/households", json=household(no_kk, kelurahan_code=kelurahan)
    )
    assert created.status_code == 201, created.text
    household_id: str = created.json()["id"]
    for n in met:
        assessed = await system.registry.post(
            f"/households/{household_id}/assessments",
            json={"ruleset": CITY, "answers": city_answers(n)},
        )
        assert assessed.status_code == 201, assessed.text
    for action in ("submit", "verify"):
        response = await system.registry.post(f"/households/{household_id}/{action}")
        assert response.status_code == 200, response.text
    return household_id


FIGURES = {"at_start": "extreme_at_start", "now": "extreme_now", "graduated": "graduated"}


async def cohort(
    client: httpx.AsyncClient,
    kelurahan: str,
    which: str,
    headers: dict[str, str] | None = None,
    **query: Any,
) -> httpx.Response:
    return await client.get(
        "/reports/hundred-days/households",
        params={"kelurahan": kelurahan, "cohort": which, **query},
        headers=headers,
    )


async def listed(client: httpx.AsyncClient, kelurahan: str, which: str) -> list[str]:
    answer = await cohort(client, kelurahan, which, limit=200)
    assert answer.status_code == 200, answer.text
    return [h["household_id"] for h in answer.json()["items"]]


async def lists_add_up(client: httpx.AsyncClient) -> dict[str, dict[str, list[str]]]:
    """Each figure's list, for Lok Tuan and the city, after checking it holds as many as the
    figure counts."""
    report = {x["kelurahan_code"]: x for x in (await client.get("/reports/hundred-days")).json()}
    found: dict[str, dict[str, list[str]]] = {}
    for code in (LOK_TUAN, "kota"):
        found[code] = {which: await listed(client, code, which) for which in FIGURES}
        counted = {which: report[code][figure] for which, figure in FIGURES.items()}
        assert {which: len(ids) for which, ids in found[code].items()} == counted, code
    return found


def starting(tmp_path: Path, day: date) -> Path:
    """The shipped directory with the 100 days starting on `day`."""
    raw = yaml.safe_load(SHIPPED.read_text())
    raw["hundred_days"]["start"] = day
    path = tmp_path / "directory-100-hari.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


async def test_each_hundred_days_figure_lists_the_households_it_counts(
    settings_for: Any, tmp_path: Path
) -> None:
    async with start_system(settings_for, services=("registry", "referrals")) as system:
        extreme = await verified_household(system, "6474010101200001", 13)
        graduated = await verified_household(system, "6474010101200002", 13, 2)
        await verified_household(system, "6474010101200003", 2)  # never extreme: in no list
        elsewhere = await verified_household(system, "6474010101200004", 13, kelurahan=API_API)
        await eventually(
            lambda: system.referrals.get("/reports/hundred-days"),
            lambda r: (r.json()[-1]["extreme_now"], r.json()[-1]["graduated"]) == (2, 1),
        )  # the last row is the city's
        # The shipped 100 days began before any of this: none was extreme at day 0.
        lists = await lists_add_up(system.referrals)
        assert lists[LOK_TUAN] == {"at_start": [], "now": [extreme], "graduated": [graduated]}
        assert lists["kota"]["now"] == sorted([extreme, elsewhere])
        assert lists["kota"]["graduated"] == [graduated]

        # A page at a time, by household id; the last page says there is no next.
        first = (await cohort(system.referrals, "kota", "now", limit=1)).json()
        (shown,) = first["items"]
        assert shown["household_id"] == first["next_after"] == lists["kota"]["now"][0]
        assert (shown["rw"], shown["rt"], shown["poverty_status"]) == (3, 12, "miskin_ekstrem")
        second = (
            await cohort(system.referrals, "kota", "now", limit=1, after=first["next_after"])
        ).json()
        assert [h["household_id"] for h in second["items"]] == lists["kota"]["now"][1:]
        assert second["next_after"] is None

        # A kelurahan lists its own: another's is refused, the city is its own share; a
        # kecamatan likewise.
        lurah = tokens.bearer(Role.KELURAHAN, "lurah-api-api", kelurahan=API_API)
        camat = tokens.bearer(Role.KECAMATAN, "camat-selatan", kecamatan="64.74.02")
        for headers in (lurah, camat):
            refused = await cohort(system.referrals, LOK_TUAN, "now", headers=headers)
            assert refused.status_code == 403, refused.text
            assert "kelurahan" in refused.json()["pesan"]
        own = await cohort(system.referrals, "kota", "now", headers=lurah)
        assert [h["household_id"] for h in own.json()["items"]] == [elsewhere]
        city = await cohort(system.referrals, "kota", "now", headers=camat)
        assert city.json()["items"] == []
        # An agency, the households it serves: DSPM was sent each extreme one by rule.
        dspm = tokens.bearer(Role.AGENCY_ADMIN, "kepala-dspm", agency="dspm")
        served = await eventually(
            lambda: cohort(system.referrals, "kota", "now", headers=dspm),
            lambda r: len(r.json()["items"]) == 2,
        )
        assert [h["household_id"] for h in served.json()["items"]] == lists["kota"]["now"]
        dinkes = tokens.bearer(Role.AGENCY_ADMIN, "kepala-dinkes", agency="dinkes")
        assert (await cohort(system.referrals, "kota", "now", headers=dinkes)).json() == {
            "items": [],
            "next_after": None,
        }
        # A kelurahan the 100 days do not name, or a figure there is not: 422 naming it.
        for kelurahan, which, field in (("64.74.01.1001", "now", "kelurahan"),
                                        (LOK_TUAN, "lulus", "cohort")):  # fmt: skip
            wrong = await cohort(system.referrals, kelurahan, which)
            assert wrong.status_code == 422, wrong.text
            assert wrong.json()["errors"][0]["field"] == field

        # Each household shown is recorded as read, for the auditor.
        auditor = tokens.bearer(Role.AUDITOR, "inspektorat")
        reads = await system.referrals.get(
            "/audit/reads", params={"household_id": graduated}, headers=auditor
        )
        assert "hundred-days" in {r["resource"] for r in reads.json()["items"]}

    # Had the 100 days started tomorrow, all of this would be before day 0: the extreme
    # household counts at day 0 and now, the graduated one never was extreme since.
    tomorrow = datetime.now(WITA).date() + timedelta(days=1)
    later = {"directory_file": starting(tmp_path, tomorrow)}
    async with start_system(settings_for, services=("referrals",), **later) as system:
        lists = await lists_add_up(system.referrals)
        assert lists[LOK_TUAN] == {"at_start": [extreme], "now": [extreme], "graduated": []}
        assert lists["kota"]["at_start"] == sorted([extreme, elsewhere])


async def stunted(
    client: httpx.AsyncClient, headers: dict[str, str] | None = None, **query: Any
) -> httpx.Response:
    return await client.get("/reports/stunting/children", params=query, headers=headers)


async def every_child(
    client: httpx.AsyncClient, headers: dict[str, str] | None = None, **query: Any
) -> list[dict[str, Any]]:
    """A stunting list followed page by page, one child a page, after checking it holds what
    one long page holds."""
    whole = await stunted(client, headers, limit=200, **query)
    assert whole.status_code == 200, whole.text
    assert whole.json()["next_after"] is None
    pages: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        page = (
            await stunted(client, headers, limit=1, **query, **({"after": after} if after else {}))
        ).json()
        pages += page["items"]
        after = page["next_after"]
        if after is None:
            break
        assert after == page["items"][-1]["member_id"]
    assert pages == whole.json()["items"]
    return pages


async def test_the_stunting_figures_list_the_children_they_count(settings_for: Any) -> None:
    async with start_system(settings_for, services=("registry", "referrals")) as system:
        first = await registered(system.registry)  # Lok Tuan
        rizky, _ = await a_stunted_child(system, first)
        # A sister stunted too: the household's referral to the Puskesmas is open, so the rule
        # refers nobody again. Found, not referred.
        putri, _ = await a_stunted_child(
            system, first, "6474015403220008", name="Putri Ayu", sex="P"
        )
        created = await system.registry.post(
            "/households", json=household("6474010101200003", kelurahan_code=API_API)
        )
        elsewhere = created.json()["id"]
        ahmad, _ = await a_stunted_child(system, elsewhere, "6474011403220009", name="Ahmad Fauzi")
        await eventually(
            lambda: system.referrals.get("/referrals", params={"agency": "puskesmas"}),
            lambda r: {i["member_id"] for i in r.json()["items"]} == {rizky, ahmad},
        )
        # Rizky registered again elsewhere and merged: one child, the record kept, referred.
        second, kept = await merged_into_a_copy(system, "6474010101200002")
        report = await eventually(
            lambda: system.referrals.get("/reports/dashboard"),
            lambda r: (
                r.json()["stunting"]["children_found"] == 3
                and r.json()["stunting"]["children_referred"] == 2
            ),
        )
        figures = report.json()["stunting"]
        # Per kelurahan, for those who may not list the children (coordinators, auditors):
        # Rizky (merged into a household of Lok Tuan) and Putri there, Ahmad in Api-Api.
        assert figures["by_kelurahan"] == {
            LOK_TUAN: {"found": 2, "referred": 1},
            API_API: {"found": 1, "referred": 1},
        }
        auditor = tokens.bearer(Role.AUDITOR, "inspektorat")
        seen = await system.referrals.get("/reports/dashboard", headers=auditor)
        assert seen.status_code == 200 and seen.json()["stunting"] == figures

        # Each figure's list holds as many as it counts, a page at a time, by member id.
        found = await every_child(system.referrals)
        referred = await every_child(system.referrals, referred=True)
        not_referred = await every_child(system.referrals, referred=False)
        assert len(found) == figures["children_found"]
        assert len(referred) == figures["children_referred"]
        assert len(not_referred) == figures["children_found"] - figures["children_referred"]
        assert [c["member_id"] for c in found] == sorted([kept, putri, ahmad])
        assert sorted(found, key=str) == sorted(referred + not_referred, key=str)
        assert {c["member_id"]: (c["household_id"], c["kelurahan_code"], c["referred"])
                for c in found} == {
            kept: (second, LOK_TUAN, True),  # where the record kept lives; not Rizky's old one
            putri: (first, LOK_TUAN, False),
            ahmad: (elsewhere, API_API, True),
        }  # fmt: skip

        # Health data: a kelurahan lists its own, a health agency the households it serves
        # (the Puskesmas was sent Rizky from his first household, where his sister lives).
        lok_tuan = tokens.bearer(Role.KELURAHAN, "lurah-lok-tuan", kelurahan=LOK_TUAN)
        api_api = tokens.bearer(Role.KELURAHAN, "lurah-api-api", kelurahan=API_API)
        puskesmas = tokens.bearer(Role.AGENCY_ADMIN, "kepala-puskesmas", agency="puskesmas")
        for headers, theirs in ((lok_tuan, [kept, putri]), (api_api, [ahmad]),
                                (puskesmas, [putri, ahmad])):  # fmt: skip
            assert [c["member_id"] for c in await every_child(system.referrals, headers)] == (
                sorted(theirs)
            )
        # Others work from the counts: refused, saying why, first in Indonesian.
        for role, headers in (
            ("coordinator", tokens.bearer(Role.COORDINATOR, "wakil-wali-kota")),
            ("kecamatan", tokens.bearer(Role.KECAMATAN, "camat-utara", kecamatan="64.74.01")),
            ("dspm", tokens.bearer(Role.AGENCY_ADMIN, "kepala-dspm", agency="dspm")),
            ("staff", tokens.bearer(Role.AGENCY_STAFF, "bidan", agency="puskesmas")),
        ):
            refused = await stunted(system.referrals, headers)
            assert refused.status_code == 403, (role, refused.text)
            if role != "staff":  # not a reports role at all: refused before the health check
                assert refused.json()["pesan"].startswith("anak stunting adalah data kesehatan")

        # Each household shown is recorded as read, once a list, for the auditor.
        auditor = tokens.bearer(Role.AUDITOR, "inspektorat")
        reads = await system.referrals.get(
            "/audit/reads", params={"household_id": first}, headers=auditor
        )
        lurah_reads = [r for r in reads.json()["items"] if r["subject"] == "lurah-lok-tuan"]
        assert {r["resource"] for r in lurah_reads} == {"stunting"}
        assert len(lurah_reads) == 2  # the long page, and Putri's page of one
        refused_reads = await system.referrals.get(
            "/audit/reads", params={"subject": "wakil-wali-kota"}, headers=auditor
        )
        assert refused_reads.json()["items"] == []  # refused: nothing was read


async def test_overdue_referrals_list_by_the_rung_the_dashboard_counts_them_at(
    settings_for: Any, tmp_path: Path
) -> None:
    path = fast_directory(tmp_path)
    # The deadline check is the test's: it raises levels as at the moments it names.
    quiet = {"directory_file": path, "sla_check_seconds": 3600}
    directory = directories.load(path)
    async with start_system(settings_for, services=("registry", "referrals"), **quiet) as system:
        runtime = system.runtime("referrals")

        async def raised(referral: dict[str, Any], seconds: float) -> None:
            due = datetime.fromisoformat(referral["due_at"])
            await sla.escalate(runtime.uow, directory, due + timedelta(seconds=seconds))

        homes = [await known_household(system, f"647401010120000{n}") for n in (1, 2, 3)]
        high = await refer(system, homes[0])
        await raised(high, 0.7)  # a second rung: 0.6 s on, one more
        first = await refer(system, homes[1])
        await raised(first, 0.1)  # the first rung
        waiting = await refer(system, homes[2])  # overdue in 0.5 s, never raised: level 0
        late = await eventually(
            lambda: system.referrals.get("/referrals", params={"overdue": True}),
            lambda r: len(r.json()["items"]) == 3,
        )
        levels = {r["id"]: r["escalation_level"] for r in late.json()["items"]}
        assert (levels[first["id"]], levels[waiting["id"]]) == (1, 0) and levels[high["id"]] >= 2
        top = levels[high["id"]]
        (dspm,) = [
            f
            for f in await reports.funnel(runtime.engine, directory, datetime.now(WITA))
            if f.agency == "dspm"
        ]
        assert dspm.overdue_by_level == {1: 2, top: 1}  # levels 0 and 1: both the first rung

        # Each rung's list holds what the dashboard counts there.
        for level in range(1, len(directory.ladder) + 1):
            listed = await system.referrals.get(
                "/referrals", params={"overdue": True, "escalation_level": level}
            )
            assert listed.status_code == 200, listed.text
            ids = {r["id"] for r in listed.json()["items"]}
            assert len(ids) == dspm.overdue_by_level.get(level, 0), level
            expected = (
                {first["id"], waiting["id"]}
                if level == 1
                else {high["id"]}
                if level == top
                else set()
            )
            assert ids == expected, level
        # A rung counts overdue referrals: without overdue=true, or off the ladder, 422.
        for query in ({"escalation_level": 1}, {"overdue": False, "escalation_level": 2},
                      {"overdue": True, "escalation_level": 0},
                      {"overdue": True, "escalation_level": 6}):  # fmt: skip
            wrong = await system.referrals.get("/referrals", params=query)
            assert wrong.status_code == 422, (query, wrong.text)
            assert wrong.json()["errors"][0]["field"] == "escalation_level", wrong.text


async def test_contributions_count_per_rt_and_per_recorder_within_the_wita_days_asked(
    settings_for: Any,
) -> None:
    async with start_system(settings_for, services=("registry", "referrals")) as system:
        household_id = await registered(system.registry)
        kader = tokens.bearer(Role.KADER, "Bu Wati", kelurahan=LOK_TUAN)
        visit = {"visited_on": "2026-11-28", "visitor": "Bu Wati", "note": "Sehat"}
        visited = await system.registry.post(
            f"/households/{household_id}/visits", json=visit, headers=kader
        )
        assert visited.status_code == 201, visited.text
        today = datetime.now(WITA).date()
        coordinator = tokens.bearer(Role.COORDINATOR, "Koordinator TKPK")

        async def report(start: Any, end: Any) -> Any:
            return await system.referrals.get(
                "/reports/contributions", params={"from": str(start), "to": str(end)},
                headers=coordinator,
            )  # fmt: skip

        found = await eventually(
            lambda: report(today, today), lambda r: r.json()["per_person"] != []
        )
        (rt,) = found.json()["per_rt"]
        assert (rt["kelurahan_code"], rt["registered"], rt["visits"]) == (LOK_TUAN, 1, 1)
        assert found.json()["per_person"] == [
            {"kelurahan_code": None, "rw": None, "rt": None, "recorded_by": "kader:Bu Wati",
             "registered": 0, "verified": 0, "visits": 1, "measurements": 0}
        ]  # fmt: skip
        yesterday = today - timedelta(days=1)
        assert (await report(yesterday, yesterday)).json()["per_rt"] == []
        backwards = await report(today, yesterday)
        assert backwards.status_code == 422 and backwards.json()["errors"][0]["field"] == "to"
        # A kelurahan sees its own RTs only; an RT may not read the report.
        other = tokens.bearer(Role.KELURAHAN, "lurah", kelurahan="64.74.01.1006")
        theirs = await system.referrals.get(
            "/reports/contributions", params={"from": str(today), "to": str(today)},
            headers=other,
        )  # fmt: skip
        assert theirs.json()["per_rt"] == []


async def test_a_contribution_period_outside_the_platforms_years_is_refused_naming_the_field(
    settings_for: Any,
) -> None:
    async with start_system(settings_for, services=("referrals",)) as system:
        coordinator = tokens.bearer(Role.COORDINATOR, "Koordinator TKPK")
        for start, end, field in (("0001-01-01", "2026-11-01", "from"),
                                  ("2026-11-01", "9999-12-31", "to")):  # fmt: skip
            answer = await system.referrals.get(
                "/reports/contributions", params={"from": start, "to": end}, headers=coordinator
            )
            assert answer.status_code == 422, answer.text
            assert answer.json()["errors"][0]["field"] == field
