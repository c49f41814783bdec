"""The household registry over HTTP: members, NIK checks, verification, conflicts, visits."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sinergi_contracts import (
    HouseholdRegistered,
    HouseholdReturned,
    HouseholdSubmitted,
    HouseholdVerified,
    HouseholdVisited,
    MemberAdded,
    NikConflictDetected,
    NikConflictResolved,
)

from sinergi.auth import Role
from tests import tokens
from tests.integration.test_slice import household
from tests.system import eventually, start_system

pytestmark = pytest.mark.integration

SITI = "6474014505900001"  # woman, 5 May 1990, Bontang Utara
BUDI = "6474010112850002"  # man, 1 December 1985


def member(nik: str | None = SITI, **changes: Any) -> dict[str, Any]:
    return {
        "nik": nik,
        "name": "Siti Aminah",
        "sex": "P",
        "birth_date": "1990-05-05",
        "relation": "kepala",
        "occupation": "pedagang",
        "working": True,
    } | changes


async def registered(client: httpx.AsyncClient, no_kk: str = "6474010101200001") -> str:
    response = await client.post("/households", json=household(no_kk=no_kk))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_a_member_with_a_valid_nik_is_added_and_shown_masked(settings_for: Any) -> None:
    async with start_system(settings_for, services=("registry",)) as system:
        household_id = await registered(system.registry)
        added = await system.registry.post(f"/households/{household_id}/members", json=member())
        assert added.status_code == 201, added.text
        detail = (await system.registry.get(f"/households/{household_id}")).json()
    assert added.json()["nik_masked"] == "************0001"
    assert [m["name"] for m in detail["members"]] == ["Siti Aminah"]
    assert SITI not in str(detail)


@pytest.mark.parametrize(
    ("nik", "changes", "rule"),
    [
        ("647401450590001", {}, "nik_length"),
        ("64740145059000A1", {}, "nik_digits"),
        ("6499014505900001", {}, "nik_region"),
        ("6474013102900001", {}, "nik_date"),
        (SITI, {"sex": "L"}, "nik_sex"),
        (SITI, {"birth_date": "1991-05-05"}, "nik_birth_date"),
    ],
)
async def test_a_nik_that_breaks_a_rule_gets_a_422_naming_it(
    settings_for: Any, nik: str, changes: dict[str, Any], rule: str
) -> None:
    async with start_system(settings_for, services=("registry",)) as system:
        household_id = await registered(system.registry)
        response = await system.registry.post(
            f"/households/{household_id}/members", json=member(nik, **changes)
        )
    assert response.status_code == 422, response.text
    problem = response.json()["errors"][0]
    assert (problem["field"], problem["rule"]) == ("nik", rule)
    assert problem["pesan"].startswith("nik: ")


async def test_the_rt_may_insist_on_a_mismatch_which_is_recorded_as_a_warning(
    settings_for: Any,
) -> None:
    async with start_system(settings_for, services=("registry",)) as system:
        household_id = await registered(system.registry)
        response = await system.registry.post(
            f"/households/{household_id}/members",
            json=member(SITI, birth_date="1991-05-05", insist=True),
        )
    assert response.status_code == 201, response.text
    assert response.json()["nik_warnings"] == ["birth_date"]


async def test_verification_goes_from_rt_to_kelurahan_and_every_step_is_on_the_timeline(
    settings_for: Any,
) -> None:
    async with start_system(settings_for) as system:
        registry = system.registry
        household_id = await registered(registry)
        await registry.post(f"/households/{household_id}/members", json=member())
        early = await registry.post(f"/households/{household_id}/verify")
        assert early.status_code == 409
        assert "submitted" in early.json()["message"]

        assert (await registry.post(f"/households/{household_id}/submit")).status_code == 200
        locked = await registry.post(
            f"/households/{household_id}/members",
            json=member(BUDI, name="Budi", sex="L", birth_date="1985-12-01", relation="suami"),
        )
        assert locked.status_code == 409
        returned = await registry.post(
            f"/households/{household_id}/return", json={"note": "Alamat kurang lengkap"}
        )
        assert returned.json()["verification"] == "returned"
        assert returned.json()["verification_note"] == "Alamat kurang lengkap"
        await registry.post(f"/households/{household_id}/submit")
        verified = await registry.post(f"/households/{household_id}/verify")
        assert verified.json()["verification"] == "verified"

        listed = await registry.get("/households", params={"verification": "verified"})
        assert [h["id"] for h in listed.json()["items"]] == [household_id]

        timeline = await eventually(
            lambda: system.referrals.get(f"/households/{household_id}/timeline"),
            lambda r: len(r.json()["entries"]) == 6,
        )
    assert [e["type"] for e in timeline.json()["entries"]] == [
        HouseholdRegistered.ce_type(),
        MemberAdded.ce_type(),
        HouseholdSubmitted.ce_type(),
        HouseholdReturned.ce_type(),
        HouseholdSubmitted.ce_type(),
        HouseholdVerified.ce_type(),
    ]


async def test_the_same_nik_in_two_households_blocks_verification_until_resolved(
    settings_for: Any,
) -> None:
    async with start_system(settings_for) as system:
        registry = system.registry
        first = await registered(registry, "6474010101200001")
        second = await registered(registry, "6474010101200002")
        await registry.post(f"/households/{first}/members", json=member())
        moved = await registry.post(f"/households/{second}/members", json=member())
        assert moved.status_code == 201
        for household_id in (first, second):
            await registry.post(f"/households/{household_id}/submit")
            blocked = await registry.post(f"/households/{household_id}/verify")
            assert blocked.status_code == 409
            assert "konflik NIK" in blocked.json()["pesan"]

        conflicts = (await registry.get(f"/households/{second}")).json()["open_conflicts"]
        assert len(conflicts) == 1
        resolved = await registry.post(
            f"/nik-conflicts/{conflicts[0]['id']}/resolve",
            json={"remove_member": moved.json()["id"], "note": "Sudah pindah ke KK pertama"},
        )
        assert resolved.status_code == 204, resolved.text
        for household_id in (first, second):
            verified = await registry.post(f"/households/{household_id}/verify")
            assert verified.status_code == 200, verified.text
        remaining = (await registry.get(f"/households/{second}")).json()["members"]
        assert remaining == []

        timeline = await eventually(
            lambda: system.referrals.get(f"/households/{first}/timeline"),
            lambda r: len(r.json()["entries"]) == 6,
        )
    types = [e["type"] for e in timeline.json()["entries"]]
    assert NikConflictDetected.ce_type() in types
    assert NikConflictResolved.ce_type() in types
    assert "6474014505900001" not in timeline.text


async def test_a_tengok_tetangga_visit_is_recorded_on_the_timeline(settings_for: Any) -> None:
    async with start_system(settings_for) as system:
        household_id = await registered(system.registry)
        response = await system.registry.post(
            f"/households/{household_id}/visits",
            json={
                "visited_on": "2026-11-27",
                "visitor": "Pak RT 12",
                "note": "Atap bocor, anak kedua belum sekolah",
                "observations": ["atap_bocor", "anak_putus_sekolah"],
            },
        )
        assert response.status_code == 201
        timeline = await eventually(
            lambda: system.referrals.get(f"/households/{household_id}/timeline"),
            lambda r: len(r.json()["entries"]) == 2,
        )
    visit = timeline.json()["entries"][1]
    assert visit["type"] == HouseholdVisited.ce_type()
    assert visit["data"]["observations"] == ["atap_bocor", "anak_putus_sekolah"]


async def test_the_area_tree_has_the_three_kecamatan_and_the_four_priority_kelurahan(
    settings_for: Any,
) -> None:
    async with start_system(settings_for, services=("registry",)) as system:
        tree = (await system.registry.get("/areas")).json()
    kota = tree[0]
    assert kota["name"] == "Kota Bontang"
    assert [k["name"] for k in kota["children"]] == [
        "Bontang Utara",
        "Bontang Selatan",
        "Bontang Barat",
    ]
    priority = {
        kel["name"] for kec in kota["children"] for kel in kec["children"] if kel["priority"]
    }
    assert priority == {"Lok Tuan", "Api-Api", "Tanjung Laut", "Tanjung Laut Indah"}


async def test_an_unknown_household_is_a_404_in_indonesian(settings_for: Any) -> None:
    async with start_system(settings_for, services=("registry",)) as system:
        response = await system.registry.post(
            "/households/00000000-0000-0000-0000-000000000000/members", json=member()
        )
    assert response.status_code == 404
    assert response.json()["pesan"] == "Rumah tangga tidak ditemukan"


async def test_a_stunted_child_is_announced_once_with_the_who_z_score(settings_for: Any) -> None:
    async with start_system(settings_for) as system:
        registry = system.registry
        household_id = await registered(registry)
        baby = await registry.post(
            f"/households/{household_id}/members",
            json=member(
                None,
                name="Rafa",
                sex="L",
                birth_date="2026-09-01",
                relation="anak",
                occupation=None,
                working=False,
            ),
        )
        baby_id = baby.json()["id"]
        measured = await registry.post(
            f"/households/{household_id}/members/{baby_id}/measurements",
            json={
                "measured_on": "2026-10-15",
                "length_height_cm": 50.0,
                "position": "lying",
                "weight_kg": 3.9,
            },
        )
        assert measured.status_code == 201, measured.text
        # The WHO reference case: a boy of 44 days, 50.0 cm lying.
        assert measured.json()["age_days"] == 44
        assert measured.json()["hfa_z"] == -3.29
        assert measured.json()["hfa_category"] == "sangat_pendek"
        again = await registry.post(
            f"/households/{household_id}/members/{baby_id}/measurements",
            json={"measured_on": "2026-11-15", "length_height_cm": 52.0, "position": "lying"},
        )
        assert again.json()["stunted"] is True
        stunted = await registry.get("/households", params={"stunting": "true"})
        assert [h["id"] for h in stunted.json()["items"]] == [household_id]

        # The registry's own events; the referrals service adds its automatic referral.
        timeline = await eventually(
            lambda: system.referrals.get(f"/households/{household_id}/timeline"),
            lambda r: sum(".registry." in e["type"] for e in r.json()["entries"]) == 5,
        )
    types = [
        e["type"].split(".")[-2] for e in timeline.json()["entries"] if ".registry." in e["type"]
    ]
    assert types == [
        "household_registered",
        "member_added",
        "child_measured",
        "child_stunting_detected",
        "child_measured",
    ]


async def test_a_child_of_five_years_is_outside_the_standard_and_told_so(
    settings_for: Any,
) -> None:
    async with start_system(settings_for, services=("registry",)) as system:
        household_id = await registered(system.registry)
        child = await system.registry.post(
            f"/households/{household_id}/members",
            json=member(
                None,
                name="Dewi",
                birth_date="2021-01-10",
                relation="anak",
                occupation=None,
                working=False,
            ),
        )
        measured = await system.registry.post(
            f"/households/{household_id}/members/{child.json()['id']}/measurements",
            json={"measured_on": "2026-11-20", "length_height_cm": 108.0, "position": "standing"},
        )
    assert measured.status_code == 201
    assert measured.json()["outside_standard"] is True
    assert measured.json()["hfa_z"] is None
    assert "60 bulan" in measured.json()["note"]


async def test_an_impossible_measurement_is_a_422_naming_the_field(settings_for: Any) -> None:
    async with start_system(settings_for, services=("registry",)) as system:
        household_id = await registered(system.registry)
        child = await system.registry.post(
            f"/households/{household_id}/members",
            json=member(
                None,
                name="Dewi",
                birth_date="2025-01-10",
                relation="anak",
                occupation=None,
                working=False,
            ),
        )
        measured = await system.registry.post(
            f"/households/{household_id}/members/{child.json()['id']}/measurements",
            json={"measured_on": "2024-11-20", "length_height_cm": 70.0, "position": "lying"},
        )
    assert measured.status_code == 422
    assert measured.json()["errors"][0]["field"] == "measured_on"


async def test_a_new_family_card_keeps_the_household_and_its_history(settings_for: Any) -> None:
    async with start_system(settings_for) as system:
        registry = system.registry
        household_id = await registered(registry, "6474010101200001")
        await registered(registry, "6474010101200009")
        taken = await registry.post(
            f"/households/{household_id}/kk",
            json={"no_kk": "6474010101200009", "reason": "pisah_kk"},
        )
        assert taken.status_code == 409
        changed = await registry.post(
            f"/households/{household_id}/kk", json={"no_kk": "6474010101200077", "reason": "pindah"}
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["no_kk_masked"] == "************0077"
        assert changed.json()["id"] == household_id
        timeline = await eventually(
            lambda: system.referrals.get(f"/households/{household_id}/timeline"),
            lambda r: len(r.json()["entries"]) == 2,
        )
    data = timeline.json()["entries"][1]["data"]
    assert data == data | {
        "reason": "pindah",
        "previous_no_kk_last4": "0001",
        "no_kk_last4": "0077",
    }


async def test_a_childs_growth_chart_has_the_who_lines_and_the_measurements_for_health_roles(
    settings_for: Any,
) -> None:
    async with start_system(settings_for, services=("registry",)) as system:
        household_id = await registered(system.registry)
        child = member(None, name="Bagas Pratama", sex="L", birth_date="2024-02-03",
                       relation="anak")  # fmt: skip
        child_id = (
            await system.registry.post(f"/households/{household_id}/members", json=child)
        ).json()["id"]
        measured = {"measured_on": "2026-11-01", "length_height_cm": 88.0, "position": "standing"}
        path = f"/households/{household_id}/members/{child_id}"
        kader = tokens.bearer(Role.KADER, "Bu Nur", kelurahan="64.74.01.1003")
        assert (await system.registry.post(f"{path}/measurements", json=measured,
                                           headers=kader)).status_code == 201  # fmt: skip
        chart = await system.registry.get(f"{path}/growth", headers=kader)
        assert chart.status_code == 200, chart.text
        body = chart.json()
        assert sorted(body["curves"], key=float) == ["-3", "-2", "0", "2", "3"]
        # WHO 2006 boys' median length at birth is 49.9 cm; at 60 months 110.0 cm.
        assert body["curves"]["0"][0] == [0, 49.9]
        assert body["curves"]["0"][-1][0] == 1825 and 109.5 < body["curves"]["0"][-1][1] < 110.5
        (point,) = body["measurements"]
        assert (point["measured_on"], point["length_height_cm"]) == ("2026-11-01", 88.0)
        assert point["hfa_category"] in ("normal", "pendek", "sangat_pendek")
        # Health data: an RT, who works without it, is refused.
        rt = tokens.bearer(Role.RT, "pak-rt", kelurahan="64.74.01.1003", rw=3, rt=12)
        assert (await system.registry.get(f"{path}/growth", headers=rt)).status_code == 403


async def test_a_list_names_the_households_asked_for_by_id_within_the_callers_area(
    settings_for: Any,
) -> None:
    """The console names a page of another list's households (the 100-day lists) in one read:
    at most 200 ids, each recorded as read, and still only the caller's own."""
    async with start_system(settings_for, services=("registry",)) as system:
        registry = system.registry
        ids = [await registered(registry, f"647401010120000{n}") for n in range(1, 4)]
        asked = await registry.get("/households", params={"household_id": ids[:2]})
        assert asked.status_code == 200, asked.text
        assert sorted(h["id"] for h in asked.json()["items"]) == sorted(ids[:2])
        # Another kelurahan's officer asks for them by id and gets none: the area still holds.
        api_api = tokens.bearer(Role.KELURAHAN, "lurah-api-api", kelurahan="64.74.01.1006")
        theirs = await registry.get("/households", params={"household_id": ids}, headers=api_api)
        assert theirs.status_code == 200 and theirs.json()["items"] == []
        # Each household named is recorded as read, for the auditor.
        auditor = tokens.bearer(Role.AUDITOR, "inspektorat")
        reads = await registry.get("/audit/reads", params={"household_id": ids[0]}, headers=auditor)
        assert [r["resource"] for r in reads.json()["items"]] == ["households", "households"]
        # A page of another list is at most 200: more names the field and the rule.
        many = [str(uuid.UUID(int=n)) for n in range(201)]
        assert (await registry.get("/households", params={"household_id": many[:200]})).is_success
        too_many = await registry.get("/households", params={"household_id": many})
    assert too_many.status_code == 422, too_many.text
    (error,) = too_many.json()["errors"]
    assert (error["field"], error["rule"]) == ("household_id", "too_long")
    assert error["pesan"] == "household_id: paling banyak 200 nilai"
    assert "at most 200" in error["message"]
