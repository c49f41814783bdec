"""Security: read audit and the processing trail. Every read of a household or of its
timeline (page or live stream) is recorded for the auditor, with who, what and why; a person's
processing trail (`sinergi.trail`, behind `sinergi trail NIK`) shows what is held about them and
who read it; and registry events name the verified caller who recorded them."""

from __future__ import annotations

from typing import Any

import pytest

from sinergi.auth import Role
from tests import tokens
from tests.integration.security_helpers import LOK_TUAN, place
from tests.integration.test_duplicates import queue, scanned, two_records_of_rizky
from tests.integration.test_referrals import known_household, refer
from tests.sse import open_stream
from tests.system import eventually, start_system

pytestmark = pytest.mark.integration


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


async def test_reads_of_referrals_benefits_and_duplicate_pairs_are_recorded_per_household(
    settings_for: Any,
) -> None:
    """What shows a household's data only once loaded is recorded too: a referral (its
    household), a list of referrals (its filters, and the household it names), the benefits,
    and a duplicate pair (both households)."""
    lurah = tokens.bearer(Role.KELURAHAN, "lurah-lok-tuan", kelurahan=LOK_TUAN)
    dspm = tokens.bearer(Role.AGENCY_STAFF, "petugas-dspm", agency="dspm")
    auditor = tokens.bearer(Role.AUDITOR, "inspektorat")
    async with start_system(settings_for) as system:
        household_id = await known_household(system, "6474010101200099")
        referral = await refer(system, household_id, "dspm-bansos")
        first, _, second, _ = await two_records_of_rizky(system)
        await scanned(system.registry)
        (candidate,) = await queue(system.registry, kelurahan_code=LOK_TUAN)
        reads = [
            (system.referrals, f"/referrals/{referral['id']}", dspm),
            (system.referrals, "/referrals", dspm, {"household_id": household_id}),
            (system.referrals, f"/households/{household_id}/benefits", lurah),
            (system.registry, f"/duplicates/{candidate['id']}", lurah),
            (system.registry, "/duplicates", lurah),
        ]
        for client, path, headers, *query in reads:
            answer = await client.get(path, headers=headers, params=(query or [None])[0])
            assert answer.status_code == 200, answer.text

        async def recorded(client: Any, **query: Any) -> list[tuple[str, str, str | None]]:
            page = await client.get("/audit/reads", params=query, headers=auditor)
            return [
                (r["subject"], r["resource"], r["household_id"])
                for r in page.json()["items"]
                if r["role"] != "system"
            ]

        assert await recorded(system.referrals) == [
            ("petugas-dspm", "referral", household_id),
            ("petugas-dspm", "referrals", household_id),
            ("lurah-lok-tuan", "benefits", household_id),
        ]
        *pair, queue_read = await recorded(system.registry)
        assert sorted(pair, key=str) == sorted(  # the pair's sides in either order
            [("lurah-lok-tuan", "duplicate", first), ("lurah-lok-tuan", "duplicate", second)],
            key=str,
        )
        assert queue_read == ("lurah-lok-tuan", "duplicates", None)
        print(f"\naudit baca: {len(reads)} baca, semuanya tercatat (all recorded)")


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
