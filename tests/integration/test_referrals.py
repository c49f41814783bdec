"""Referrals between agencies: lifecycle, roles, versions, handoff, rules, deadlines. The
reports are tested in test_reports."""

from __future__ import annotations

import asyncio
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

from services.referrals.directory import SHIPPED
from tests.integration.test_assessments import CITY, city_answers
from tests.integration.test_registry import member, registered
from tests.integration.test_slice import LOK_TUAN
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


def extreme_of(system: System, household_id: str) -> Any:
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
        assert (await extreme_of(system, household_id)).status_code == 201
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
        assert (await extreme_of(system, household_id)).status_code == 201
        await asyncio.sleep(1.5)
        again = await system.referrals.get("/referrals", params={"household_id": household_id})
        assert len(again.json()["items"]) == 3


async def test_completing_the_last_open_referral_of_an_extreme_household_asks_to_reassess(
    settings_for: Any,
) -> None:
    async with start_system(settings_for) as system:
        household_id = await registered(system.registry)
        assert (await extreme_of(system, household_id)).status_code == 201
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
