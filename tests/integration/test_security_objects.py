"""Security: object-level authorisation, data minimisation and mass assignment (OWASP API
Top 10 2023: API1 broken object-level authorisation, API3 broken object property level
authorisation). An RT, a kelurahan and a kecamatan reach only their own households, an agency
only the referrals and households it serves, and inboxes and subscriptions are their owners'
only; an RT's import keeps only its own rows and the duplicate queue is the kelurahan's own.
Health details reach cadres, the kelurahan and health agencies only, and a request body cannot
set a status, version, agency or id."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sinergi_contracts import ReferralRequested

from sinergi.auth import Role
from tests import tokens
from tests.integration.security_helpers import API_API, LOK_TUAN, Tally, place
from tests.system import eventually, start_system

pytestmark = pytest.mark.integration


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
