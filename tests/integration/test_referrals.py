"""Referrals between agencies: lifecycle, roles, versions, handoff, rules, deadlines, reports."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
import yaml
from sinergi_contracts import (
    Envelope,
    ReassessmentRequested,
    ReferralOverdue,
    ReferralRequested,
    ReferralStatusChanged,
    subjects,
)

from services.referrals import directory as directories
from services.referrals import reports, sla
from services.referrals.directory import SHIPPED, WITA
from sinergi.auth import Role
from tests import tokens
from tests.integration.security_helpers import API_API
from tests.integration.test_assessments import CITY, city_answers
from tests.integration.test_registry import member, registered
from tests.integration.test_slice import LOK_TUAN, household
from tests.system import System, eventually, start_system
from tests.tokens import as_actor

pytestmark = pytest.mark.integration

KELURAHAN = as_actor(f"kelurahan:{LOK_TUAN}")
DSPM = as_actor("agency:dspm")
BAZNAS = as_actor("agency:baznas")
OUTCOME = {
    "delivered": "Bantuan sembako 3 bulan",
    "delivered_on": "2026-11-20",
    "amount_idr": 900000,
}


async def known_household(system: System, no_kk: str = "6474010101200001") -> str:
    """A household registered in the registry, once the referrals service knows it."""
    household_id = await registered(system.registry, no_kk)
    await eventually(
        lambda: system.referrals.post(
            "/referrals",
            headers=KELURAHAN,
            json={"household_id": household_id, "programme": "tidak-ada"},
        ),
        lambda r: r.status_code == 422,  # not 404: the household is known, the programme not
    )
    return household_id


async def refer(
    system: System, household_id: str, programme: str = "dspm-bansos"
) -> dict[str, Any]:
    response = await system.referrals.post(
        "/referrals", headers=KELURAHAN, json={"household_id": household_id, "programme": programme}
    )
    assert response.status_code == 201, response.text
    assert response.headers["ETag"] == '"1"'
    body: dict[str, Any] = response.json()
    return body


async def step(
    client: httpx.AsyncClient,
    referral_id: str,
    action: str,
    headers: dict[str, str],
    version: int | None = None,
    **body: Any,
) -> httpx.Response:
    if version is not None:
        headers = headers | {"If-Match": f'"{version}"'}
    return await client.post(f"/referrals/{referral_id}/{action}", headers=headers, json=body)


async def timeline_types(system: System, household_id: str, count: int) -> list[str]:
    response = await eventually(
        lambda: system.referrals.get(f"/households/{household_id}/timeline", params={"limit": 200}),
        lambda r: len(r.json()["entries"]) >= count,
    )
    return [e["type"] for e in response.json()["entries"]]


async def test_a_referral_goes_from_request_to_completion_and_the_referrer_sees_the_outcome(
    settings_for: Any,
) -> None:
    async with start_system(settings_for) as system:
        household_id = await known_household(system)
        referral = await refer(system, household_id)
        assert referral["status"] == "requested"
        assert referral["agency"] == "dspm" and referral["funding"] == "APBD"
        assert referral["allowed_actions"] == ["cancel", "mark-error"]
        rid = referral["id"]
        for number, (action, body) in enumerate(
            [("receive", {}), ("accept", {}), ("start", {}), ("complete", {"outcome": OUTCOME})],
            start=1,
        ):
            response = await step(system.referrals, rid, action, DSPM, version=number, **body)
            assert response.status_code == 200, response.text
            assert response.headers["ETag"] == f'"{number + 1}"'
        seen = (await system.referrals.get(f"/referrals/{rid}", headers=KELURAHAN)).json()
        assert seen["status"] == "completed"
        assert seen["outcome"]["amount_idr"] == 900000
        benefits = (await system.referrals.get(f"/households/{household_id}/benefits")).json()
        assert [(b["programme"], b["funding"]) for b in benefits] == [("dspm-bansos", "APBD")]
        types = await timeline_types(system, household_id, 6)
        assert types.count(ReferralStatusChanged.ce_type()) == 4
        assert ReferralRequested.ce_type() in types
        latency = (await system.referrals.get("/reports/handoff-latency")).json()
        assert {(x["agency"], x["step"]) for x in latency} == {
            ("dspm", "requested→accepted"),
            ("dspm", "accepted→completed"),
        }


async def test_illegal_steps_wrong_sides_and_missing_reasons_get_clear_answers(
    settings_for: Any,
) -> None:
    async with start_system(settings_for, services=("registry", "referrals")) as system:
        household_id = await known_household(system)
        rid = (await refer(system, household_id))["id"]
        illegal = await step(system.referrals, rid, "complete", DSPM, outcome=OUTCOME)
        assert illegal.status_code == 409, illegal.text
        assert "yang boleh: receive" in illegal.json()["pesan"]
        wrong = await step(system.referrals, rid, "receive", KELURAHAN)
        assert wrong.status_code == 403, wrong.text
        # An agency the referral neither names nor came from does not see it at all.
        other = await step(system.referrals, rid, "receive", BAZNAS)
        assert other.status_code == 404, other.text
        anonymous = await system.referrals.post(
            f"/referrals/{rid}/receive", json={}, headers={"Authorization": ""}
        )
        assert anonymous.status_code == 401, anonymous.text
        assert anonymous.headers["www-authenticate"] == "Bearer"
        await step(system.referrals, rid, "receive", DSPM)
        no_reason = await step(system.referrals, rid, "reject", DSPM)
        assert no_reason.status_code == 422, no_reason.text
        assert no_reason.json()["errors"][0]["field"] == "reason"
        mass = await step(system.referrals, rid, "accept", DSPM, status="completed")
        assert mass.status_code == 422, mass.text  # the body takes only reason and outcome
        again = await system.referrals.post(
            "/referrals",
            headers=KELURAHAN,
            json={"household_id": household_id, "programme": "dspm-bansos"},
        )
        assert again.status_code == 409, again.text  # one open referral per programme
        stale = await step(system.referrals, rid, "accept", DSPM, version=1)
        assert stale.status_code == 409, stale.text


async def test_of_an_accept_and_a_cancel_at_once_exactly_one_wins(settings_for: Any) -> None:
    async with start_system(settings_for, services=("registry", "referrals")) as system:
        household_id = await known_household(system)
        rid = (await refer(system, household_id))["id"]
        await step(system.referrals, rid, "receive", DSPM)
        accept, cancel = await asyncio.gather(
            step(system.referrals, rid, "accept", DSPM, version=2),
            step(system.referrals, rid, "cancel", KELURAHAN, version=2, reason="Pindah kota"),
        )
        codes = sorted((accept.status_code, cancel.status_code))
        assert codes == [200, 409], (accept.text, cancel.text)
        final = (await system.referrals.get(f"/referrals/{rid}")).json()
        assert final["version"] == 3


async def test_an_agency_hands_a_case_on_and_both_show_on_the_timeline(settings_for: Any) -> None:
    async with start_system(settings_for) as system:
        household_id = await known_household(system)
        parent = (await refer(system, household_id))["id"]
        for action in ("receive", "accept"):
            await step(system.referrals, parent, action, DSPM)
        handed = await system.referrals.post(
            "/referrals",
            headers=DSPM,
            json={
                "household_id": household_id,
                "programme": "baznas-zakat-produktif",
                "parent_id": parent,
                "note": "Butuh modal usaha, di luar program DSPM",
            },
        )
        assert handed.status_code == 201, handed.text
        child = handed.json()
        assert (child["parent_id"], child["referrer"], child["agency"]) == (
            parent,
            "agency:dspm",
            "baznas",
        )
        # The receiving agency cannot hand on what it was never given.
        stranger = await system.referrals.post(
            "/referrals",
            headers=BAZNAS,
            json={"household_id": household_id, "programme": "dspm-pkh", "parent_id": parent},
        )
        assert stranger.status_code == 403, stranger.text
        types = await timeline_types(system, household_id, 5)
        assert types.count(ReferralRequested.ce_type()) == 2


def _extreme(system: System, household_id: str) -> Any:
    return system.registry.post(
        f"/households/{household_id}/assessments",
        json={"ruleset": CITY, "answers": city_answers(13)},
    )


async def test_an_extreme_poor_household_is_referred_automatically_once_by_rule(
    settings_for: Any, nats_server: Any
) -> None:
    async with start_system(settings_for) as system:
        household_id = await registered(system.registry)
        jobless = member(
            "6474011505950003", name="Andi Saputra", sex="L", birth_date="1995-05-15",
            relation="anak", working=False,
        )  # fmt: skip
        added = await system.registry.post(f"/households/{household_id}/members", json=jobless)
        assert added.status_code == 201, added.text
        assert (await _extreme(system, household_id)).status_code == 201
        found = await eventually(
            lambda: system.referrals.get("/referrals", params={"household_id": household_id}),
            lambda r: len(r.json()["items"]) == 3,
        )
        items = found.json()["items"]
        assert {i["programme"] for i in items} == {
            "dspm-bansos",
            "baznas-zakat-produktif",
            "balai-kerja-pelatihan",
        }
        work = next(i for i in items if i["programme"] == "balai-kerja-pelatihan")
        assert work["rule"] == "ekstrem-menganggur-ke-balai-kerja"
        assert work["facts"]["unemployed_working_age"] == 1
        assert work["referrer"] == f"kelurahan:{LOK_TUAN}"

        # A redelivered event (same CloudEvents id, new NATS message id) refers nobody again;
        # a new assessment with the same status finds the referrals open.
        nc = await nats.connect(nats_server.client_url())
        try:
            js = nc.jetstream()
            sub = await js.subscribe(
                subjects.event_filter("registry", "poverty_status_changed"), ordered_consumer=True
            )
            msg = await sub.next_msg(timeout=5)
            headers = dict(msg.headers or {}) | {"Nats-Msg-Id": "redelivery-1"}
            assert Envelope.from_message(msg.headers, msg.data).event.household_id
            await js.publish(msg.subject, msg.data, headers=headers)
        finally:
            await nc.close()
        assert (await _extreme(system, household_id)).status_code == 201
        await asyncio.sleep(1.5)
        again = await system.referrals.get("/referrals", params={"household_id": household_id})
        assert len(again.json()["items"]) == 3


async def test_completing_the_last_open_referral_of_an_extreme_household_asks_to_reassess(
    settings_for: Any,
) -> None:
    async with start_system(settings_for) as system:
        household_id = await registered(system.registry)
        assert (await _extreme(system, household_id)).status_code == 201
        found = await eventually(
            lambda: system.referrals.get("/referrals", params={"household_id": household_id}),
            lambda r: len(r.json()["items"]) == 2,
        )
        for item in found.json()["items"]:
            agency = as_actor(f"agency:{item['agency']}")
            for action, body in [("receive", {}), ("accept", {}), ("start", {})]:
                await step(system.referrals, item["id"], action, agency, **body)
            done = await step(system.referrals, item["id"], "complete", agency, outcome=OUTCOME)
            assert done.status_code == 200, done.text
        types = await timeline_types(system, household_id, 13)
        assert types.count(ReassessmentRequested.ce_type()) == 1
        assert types[-1] == ReassessmentRequested.ce_type()


def fast_directory(tmp_path: Path) -> Path:
    raw = yaml.safe_load(SHIPPED.read_text())
    raw["sla"] = {
        "received": {"seconds": 0.5},
        "accepted": {"seconds": 60},
        "completed": {"seconds": 60},
    }
    raw["escalation"]["every"] = {"seconds": 0.6}
    for agency in raw["agencies"].values():
        agency.pop("sla", None)
    path = tmp_path / "directory.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


async def overdue_levels(system: System, household_id: str) -> list[int]:
    response = await system.referrals.get(
        f"/households/{household_id}/timeline", params={"limit": 200}
    )
    return [
        e["data"]["level"]
        for e in response.json()["entries"]
        if e["type"] == ReferralOverdue.ce_type()
    ]


async def test_an_overdue_referral_climbs_the_ladder_once_per_level_across_restarts_and_replicas(
    settings_for: Any, tmp_path: Path
) -> None:
    fast = {"directory_file": fast_directory(tmp_path), "sla_check_seconds": 0.1}
    async with start_system(settings_for, **fast) as system:
        household_id = await known_household(system)
        await refer(system, household_id)
        await eventually(lambda: overdue_levels(system, household_id), lambda x: len(x) >= 2)
    # Stopped a while: on restart the level jumps to where the clock says, announced once.
    await asyncio.sleep(1.5)
    async with start_system(settings_for, **fast) as system:
        # A second replica of referrals on the same database and durables.
        from sinergi.catalogue import definition
        from sinergi.service import create_service_app, running

        replica = create_service_app(definition("referrals"), settings_for("referrals", **fast))
        async with running(replica.state.runtime):
            levels = await eventually(
                lambda: overdue_levels(system, household_id), lambda x: x and x[-1] == 5, within=30
            )
            await asyncio.sleep(1.0)
            levels = await overdue_levels(system, household_id)
            overdue = (await system.referrals.get("/referrals", params={"overdue": True})).json()
    assert levels == sorted(set(levels)), f"a level was announced twice: {levels}"
    assert levels[0] == 1 and levels[-1] == 5
    (late,) = overdue["items"]
    assert late["escalation_level"] == 5


async def a_stunted_child(
    system: System, household_id: str, nik: str | None = "6474011403220007", **changes: Any
) -> tuple[str, dict[str, Any]]:
    """A child added to the household and measured stunted: (member id, the measurement)."""
    child = member(
        nik, **{"name": "Muhammad Rizky", "sex": "L", "birth_date": "2022-03-14",
                "relation": "anak", "working": False} | changes,
    )  # fmt: skip
    added = await system.registry.post(f"/households/{household_id}/members", json=child)
    assert added.status_code == 201, added.text
    measured = await system.registry.post(
        f"/households/{household_id}/members/{added.json()['id']}/measurements",
        json={"measured_on": "2026-11-01", "length_height_cm": 95.0, "position": "standing"},
    )
    assert measured.json()["hfa_category"] in ("pendek", "sangat_pendek"), measured.text
    return str(added.json()["id"]), measured.json()


async def merged_into_a_copy(system: System, no_kk: str) -> tuple[str, str]:
    """Muhammad Rizky (`a_stunted_child`) registered again without NIK in a new household,
    then merged into that record: (the new household, the record kept)."""
    other = await registered(system.registry, no_kk)
    copy = member(None, name="Muhamad Rizky", sex="L", birth_date="2022-03-14", relation="anak")
    copy_id = (await system.registry.post(f"/households/{other}/members", json=copy)).json()["id"]
    queue = await eventually(
        lambda: system.registry.get("/duplicates"), lambda r: len(r.json()["items"]) == 1
    )
    candidate = queue.json()["items"][0]["id"]
    merged = await system.registry.post(
        f"/duplicates/{candidate}/decision",
        json={
            "decision": "merge",
            "keep_member_id": copy_id,
            "note": "Anak yang sama, kini tinggal bersama neneknya",
            "officer": "Nur Hasanah",
        },
    )
    assert merged.status_code == 200, merged.text
    return other, str(copy_id)


async def test_a_newly_stunted_child_is_referred_to_the_puskesmas_and_follows_a_merge(
    settings_for: Any,
) -> None:
    async with start_system(settings_for, services=("registry", "referrals")) as system:
        household_id = await registered(system.registry)
        child_id, measured = await a_stunted_child(system, household_id)
        found = await eventually(
            lambda: system.referrals.get("/referrals", params={"household_id": household_id}),
            lambda r: len(r.json()["items"]) == 1,
        )
        (referral,) = found.json()["items"]
        assert (referral["programme"], referral["agency"]) == ("puskesmas-pmt", "puskesmas")
        assert referral["member_id"] == child_id
        assert referral["rule"] == "stunting-ke-puskesmas"
        assert referral["facts"]["hfa_category"] == measured["hfa_category"]

        # The same child registered again without NIK elsewhere, then merged into that record:
        # the referral follows the person.
        _, copy_id = await merged_into_a_copy(system, "6474010101200002")
        await eventually(
            lambda: system.referrals.get(f"/referrals/{referral['id']}"),
            lambda r: r.json()["member_id"] == copy_id,
        )
        # The coordinators' dashboard counts the child once: found, and referred.
        dashboard = (await system.referrals.get("/reports/dashboard")).json()
        assert dashboard["stunting"] == {
            "children_found": 1,
            "children_referred": 1,
            "by_kelurahan": {LOK_TUAN: {"found": 1, "referred": 1}},
        }
        puskesmas = {f["agency"]: f for f in dashboard["funnel"]}["puskesmas"]
        assert puskesmas["by_status"]["requested"] == 1
        assert puskesmas["overdue_by_level"] == {}


async def test_the_hundred_days_count_verified_extreme_households_now_and_graduated(
    settings_for: Any,
) -> None:
    async with start_system(settings_for, services=("registry", "referrals")) as system:
        ids = [await registered(system.registry, f"647401010120000{n}") for n in range(1, 4)]
        for household_id in ids:
            assert (await _extreme(system, household_id)).status_code == 201
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
