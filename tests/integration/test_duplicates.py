"""The duplicate review queue: members without NIK matched in the background, decided by hand."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sinergi_contracts import DuplicateDismissed, DuplicateSuspected, MembersMerged

from sinergi.auth import Role
from tests.integration.test_registry import member, registered
from tests.integration.test_slice import LOK_TUAN
from tests.system import System, eventually, start_system
from tests.tokens import bearer

pytestmark = pytest.mark.integration

RIZKY = "6474011403220007"  # boy, 14 March 2022
CHILD = {"sex": "L", "birth_date": "2022-03-14", "relation": "anak", "working": False}


async def add(client: httpx.AsyncClient, household_id: str, **fields: Any) -> str:
    response = await client.post(f"/households/{household_id}/members", json=member(**fields))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def scanned(client: httpx.AsyncClient) -> None:
    await eventually(lambda: client.get("/duplicates/scan"), lambda r: r.json()["queued"] == 0)


async def queue(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/duplicates", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def on_timeline(system: System, household_id: str, ce_type: str) -> None:
    await eventually(
        lambda: system.referrals.get(f"/households/{household_id}/timeline", params={"limit": 200}),
        lambda r: ce_type in [e["type"] for e in r.json()["entries"]],
    )


async def two_records_of_rizky(system: System) -> tuple[str, str, str, str]:
    """(household A, member with NIK in A, household B, member without NIK in B)"""
    first = await registered(system.registry, "6474010101200001")
    second = await registered(system.registry, "6474010101200002")
    with_nik = await add(system.registry, first, nik=RIZKY, name="Muhammad Rizky Saputra", **CHILD)
    copy = await add(system.registry, second, nik=None, name="Muhamad Rizky Saputra", **CHILD)
    return first, with_nik, second, copy


async def test_a_member_without_nik_like_another_is_queued_with_reasons_for_both_households(
    settings_for: Any,
) -> None:
    async with start_system(settings_for) as system:
        first, with_nik, second, copy = await two_records_of_rizky(system)
        await scanned(system.registry)
        (candidate,) = await queue(system.registry, kelurahan_code=LOK_TUAN)
        assert {candidate["left"]["member_id"], candidate["right"]["member_id"]} == {with_nik, copy}
        assert candidate["state"] == "open"
        assert candidate["score"] >= 0.9
        assert "tanggal lahir sama" in candidate["reasons"]
        assert candidate["reasons"][0].startswith("nama sama setelah gelar dan ejaan")
        sides = {s["member_id"]: s for s in (candidate["left"], candidate["right"])}
        assert sides[with_nik]["nik_last4"] == "0007"
        assert sides[copy]["nik_last4"] is None
        assert RIZKY not in str(candidate)
        for household_id in (first, second):
            await on_timeline(system, household_id, DuplicateSuspected.ce_type())


async def test_a_merge_keeps_one_record_with_the_nik_and_the_measurements_and_tells_both(
    settings_for: Any,
) -> None:
    async with start_system(settings_for) as system:
        first, with_nik, second, copy = await two_records_of_rizky(system)
        measured = await system.registry.post(
            f"/households/{first}/members/{with_nik}/measurements",
            json={"measured_on": "2026-11-01", "length_height_cm": 98.0, "position": "standing"},
        )
        assert measured.status_code == 201, measured.text
        await scanned(system.registry)
        (candidate,) = await queue(system.registry)
        decision = {"note": "Orang yang sama, tinggal di rumah B", "officer": "Nur Hasanah"}

        wrong = await system.registry.post(
            f"/duplicates/{candidate['id']}/decision",
            json=decision | {"decision": "merge", "keep_member_id": first},
        )
        assert wrong.status_code == 422, wrong.text
        assert wrong.json()["errors"][0]["field"] == "keep_member_id"

        merged = await system.registry.post(
            f"/duplicates/{candidate['id']}/decision",
            json=decision | {"decision": "merge", "keep_member_id": copy},
            headers=bearer(Role.KELURAHAN, "nur.hasanah", kelurahan=LOK_TUAN),
        )
        assert merged.status_code == 200, merged.text
        assert merged.json()["state"] == "merged"
        assert merged.json()["kept_member_id"] == copy
        # Who decided comes from the token; the typed name only stands beside it.
        assert merged.json()["decided_by"] == "kelurahan:nur.hasanah (Nur Hasanah)"

        again = await system.registry.post(
            f"/duplicates/{candidate['id']}/decision",
            json=decision | {"decision": "not_duplicate"},
        )
        assert again.status_code == 409, again.text

        a = (await system.registry.get(f"/households/{first}")).json()
        b = (await system.registry.get(f"/households/{second}")).json()
        assert [m["id"] for m in a["members"]] == []
        (kept,) = [m for m in b["members"] if m["id"] == copy]
        assert kept["nik_masked"].endswith("0007")
        assert b["stunted_children"] == 1  # the measurement moved with the person
        assert a["stunted_children"] == 0
        for household_id in (first, second):
            await on_timeline(system, household_id, MembersMerged.ce_type())


async def test_not_a_duplicate_is_recorded_and_a_new_scan_does_not_ask_again(
    settings_for: Any,
) -> None:
    async with start_system(settings_for) as system:
        first, _, _, _ = await two_records_of_rizky(system)
        await scanned(system.registry)
        (candidate,) = await queue(system.registry)
        dismissed = await system.registry.post(
            f"/duplicates/{candidate['id']}/decision",
            json={"decision": "not_duplicate", "note": "Sepupu, dua orang", "officer": "Nur"},
        )
        assert dismissed.status_code == 200, dismissed.text
        assert dismissed.json()["state"] == "not_duplicate"

        rescan = await system.registry.post("/duplicates/scan", json={"kelurahan_code": LOK_TUAN})
        assert rescan.status_code == 202, rescan.text
        assert rescan.json()["queued"] == 2
        await scanned(system.registry)
        assert await queue(system.registry) == []
        (kept,) = await queue(system.registry, state="not_duplicate")
        assert kept["note"] == "Sepupu, dua orang"
        await on_timeline(system, first, DuplicateDismissed.ce_type())


async def test_two_members_with_their_own_nik_are_not_queued(settings_for: Any) -> None:
    async with start_system(settings_for, services=("registry",)) as system:
        first = await registered(system.registry, "6474010101200001")
        second = await registered(system.registry, "6474010101200002")
        await add(system.registry, first, nik=RIZKY, name="Muhammad Rizky Saputra", **CHILD)
        await add(
            system.registry, second, nik="6474011403220008", name="Muhamad Rizky Saputra", **CHILD
        )
        await scanned(system.registry)
        assert await queue(system.registry) == []


async def test_an_unknown_kelurahan_or_cursor_is_a_422(settings_for: Any) -> None:
    async with start_system(settings_for, services=("registry",)) as system:
        scan = await system.registry.post("/duplicates/scan", json={"kelurahan_code": "64.74.09"})
        page = await system.registry.get("/duplicates", params={"after": "x"})
    assert scan.status_code == 422, scan.text
    assert page.status_code == 422, page.text
    assert page.json()["errors"][0]["field"] == "after"
