"""Notifications: every agency hears what concerns it (inboxes, live stream, subscriptions,
per-agency NATS subjects followed by the example client in contracts/)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import pytest
import yaml
from sinergi_contracts import ReferralOverdue, ReferralRequested, ReferralStatusChanged, subjects
from sqlalchemy import select

from services.notifications.digest import DIGEST_TYPE
from services.notifications.models import deliveries
from services.notifications.render import WITA
from services.referrals import rules
from sinergi.natsserver import NatsServer
from tests.integration.test_referrals import (
    BAZNAS,
    a_stunted_child,
    fast_directory,
    known_household,
    refer,
    step,
)
from tests.integration.test_registry import registered
from tests.integration.test_slice import LOK_TUAN
from tests.integration.test_webhooks import COORDINATOR, FAST, Behaviour, receiving
from tests.sse import open_stream
from tests.system import System, eventually, last_message, start_system

pytestmark = pytest.mark.integration

CLIENT = Path(__file__).parents[2] / "contracts" / "examples" / "agency_client.py"


async def inbox(system: System, recipient: str, **params: Any) -> dict[str, Any]:
    response = await system.notifications.get("/inbox", params={"recipient": recipient, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_an_agency_hears_its_referral_and_the_referrer_hears_the_outcome(
    settings_for: Any,
) -> None:
    async with start_system(settings_for) as system:
        household_id = await known_household(system)
        referral = await refer(system, household_id, "baznas-zakat-produktif")
        agency_inbox = await eventually(
            lambda: inbox(system, "agency:baznas"), lambda body: body["unread"] == 1
        )
        item = agency_inbox["items"][0]
        assert item["event_type"] == ReferralRequested.ce_type()
        assert item["title"] == "Rujukan baru: baznas-zakat-produktif"
        assert (await inbox(system, "agency:dspm"))["items"] == []

        received = await step(system.referrals, referral["id"], "receive", BAZNAS, version=1)
        assert received.status_code == 200, received.text
        referrer = await eventually(
            lambda: inbox(
                system, f"kelurahan:{LOK_TUAN}", event_type=ReferralStatusChanged.ce_type()
            ),
            lambda body: len(body["items"]) == 1,
        )
        assert referrer["items"][0]["title"] == "Rujukan baznas-zakat-produktif: diterima masuk"

        marked = await system.notifications.post(
            "/inbox/read", json={"recipient": "agency:baznas", "ids": [item["id"]]}
        )
        assert marked.json()["marked"] == 1
        after = await eventually(
            lambda: inbox(system, "agency:baznas"), lambda body: len(body["items"]) == 2
        )
        assert after["unread"] == 1  # the status change is new; the request was read
        unread = await inbox(system, "agency:baznas", unread_only="true")
        assert [i["event_type"] for i in unread["items"]] == [ReferralStatusChanged.ce_type()]


async def test_the_example_agency_client_receives_its_referrals_and_nothing_else(
    settings_for: Any, nats_server: NatsServer
) -> None:
    async with start_system(settings_for) as system:
        household_id = await known_household(system)
        for_baznas = await refer(system, household_id, "baznas-zakat-produktif")
        await refer(system, household_id, "dspm-bansos")
        await step(system.referrals, for_baznas["id"], "receive", BAZNAS, version=1)
        # As the agency's own NATS user, which may read its deliveries and nothing else.
        as_baznas = {**os.environ, "NATS_PASSWORD": nats_server.password_of("agency-baznas")}
        client = await asyncio.create_subprocess_exec(
            sys.executable, str(CLIENT), "--nats", nats_server.url, "--agency", "baznas",
            "--user", "agency-baznas", "--count", "2", "--idle", "20",
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=as_baznas,
        )  # fmt: skip
        out, err = await asyncio.wait_for(client.communicate(), timeout=60)
        assert client.returncode == 0, err.decode()
        lines = [json.loads(line) for line in out.decode().splitlines()]
        assert [line["type"] for line in lines] == [
            ReferralRequested.ce_type(),
            ReferralStatusChanged.ce_type(),
        ]
        assert {line["data"]["agency"] for line in lines} == {"baznas"}
        assert lines[0]["data"]["referral_id"] == for_baznas["id"]
        # Acknowledged: the durable has nothing more for baznas.
        again = await asyncio.create_subprocess_exec(
            sys.executable, str(CLIENT), "--nats", nats_server.url, "--agency", "baznas",
            "--user", "agency-baznas", "--idle", "2",
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=as_baznas,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(again.communicate(), timeout=60)
        assert out.decode() == ""


async def test_an_agency_that_is_not_for_health_gets_its_copy_without_health_details(
    settings_for: Any, nats_server: NatsServer, tmp_path: Path
) -> None:
    """UU PDP minimisation on the agency subjects: a stunted child's referral carries its
    z-score and category in `facts`; Baznas's copy leaves them out, the Puskesmas's keeps them."""
    raw = yaml.safe_load(rules.SHIPPED.read_text())
    raw["rules"].append(
        {
            "id": "stunting-ke-baznas",
            "description": "Anak pendek juga dirujuk ke Baznas (test).",
            "events": ["child_stunting_detected"],
            "refer_to": "baznas-konsumtif",
            "member": True,
        }
    )
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump(raw))
    async with start_system(settings_for, rules_file=rules_file) as system:
        household_id = await registered(system.registry)
        _, measured = await a_stunted_child(system, household_id)
        nc = await nats.connect(nats_server.client_url())
        try:
            js = nc.jetstream()

            async def copy_for(agency: str) -> dict[str, Any]:
                subject = subjects.agency_subject(agency, "referrals", "referral_requested")
                msg = await eventually(
                    lambda: last_message(js, subjects.AGENCY_STREAM, subject),
                    lambda found: found is not None,
                )
                assert msg is not None
                data: dict[str, Any] = json.loads(msg.data)
                return data

            for_puskesmas, for_baznas = await copy_for("puskesmas"), await copy_for("baznas")
        finally:
            await nc.close()
    assert for_puskesmas["facts"]["hfa_category"] == measured["hfa_category"]
    assert "hfa_z" in for_puskesmas["facts"]
    assert for_baznas["rule"] == "stunting-ke-baznas"
    assert "hfa_category" not in for_baznas["facts"] and "hfa_z" not in for_baznas["facts"]
    assert for_baznas["member_id"] == for_puskesmas["member_id"]  # the rest is all there


async def test_a_user_subscribes_to_a_kelurahan_and_reads_it_live(settings_for: Any) -> None:
    async with start_system(settings_for) as system:
        created = await system.notifications.post(
            "/subscriptions",
            json={
                "owner": "user:siti",
                "channel": "inbox",
                "audience": f"kelurahan:{LOK_TUAN}",
                "event_types": [ReferralStatusChanged.ce_type()],
            },
        )
        assert created.status_code == 201, created.text
        assert created.json()["secret"] is None
        listed = await system.notifications.get("/subscriptions", params={"owner": "user:siti"})
        assert [s["id"] for s in listed.json()] == [created.json()["id"]]

        stream = await open_stream(
            system.apps["notifications"], "/inbox/stream?recipient=user:siti"
        )
        assert stream.status == 200
        household_id = await known_household(system)
        referral = await refer(system, household_id, "baznas-zakat-produktif")
        await step(system.referrals, referral["id"], "receive", BAZNAS, version=1)
        [pushed] = await stream.reader.take(1, within=20)
        assert pushed.event == ReferralStatusChanged.ce_type()
        assert json.loads(pushed.data)["title"].startswith("Rujukan baznas-zakat-produktif")
        await stream.close()
        # Only the type asked for: the request itself went to the kelurahan, not to siti.
        siti = await inbox(system, "user:siti")
        assert [i["event_type"] for i in siti["items"]] == [ReferralStatusChanged.ce_type()]


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"audience": "semua"}, "audience", "audience_format"),
        ({"event_types": ["id.sinergi.tidak.ada.v1"]}, "event_types", "unknown_event_type"),
        ({"channel": "webhook"}, "target", "webhook_url"),
        ({"channel": "email", "target": "bukan-alamat"}, "target", "email_address"),
        ({"owner": "siapa saja"}, "owner", "owner_format"),
        ({"state": "active"}, "state", "extra_forbidden"),
    ],
)
async def test_a_bad_subscription_is_refused_naming_the_field_and_rule(
    settings_for: Any, change: dict[str, Any], field: str, rule: str
) -> None:
    async with start_system(settings_for, services=("notifications",)) as system:
        body = {"owner": "user:siti", "channel": "inbox", "audience": "city"} | change
        response = await system.notifications.post("/subscriptions", json=body)
        assert response.status_code == 422, response.text
        [error] = response.json()["errors"]
        assert (error["field"], error["rule"]) == (field, rule)
        assert error["pesan"] and error["message"]


async def test_the_agency_kelurahan_and_coordinators_hear_of_an_overdue_referral(
    settings_for: Any, tmp_path: Path
) -> None:
    fast = {"directory_file": fast_directory(tmp_path), "sla_check_seconds": 0.1}
    async with start_system(settings_for, **fast) as system:
        household_id = await known_household(system)
        await refer(system, household_id, "baznas-zakat-produktif")
        for recipient in ("city", f"kelurahan:{LOK_TUAN}", "agency:baznas"):
            found = await eventually(
                lambda recipient=recipient: inbox(
                    system, recipient, event_type=ReferralOverdue.ce_type()
                ),
                lambda body: len(body["items"]) >= 1,
            )
            title = found["items"][-1]["title"]
            assert title == "Rujukan terlambat (tingkat 1): baznas-zakat-produktif", recipient


async def test_the_daily_digest_tells_each_kelurahan_and_agency_what_is_new_and_overdue_once(
    settings_for: Any, tmp_path: Path
) -> None:
    fast = {"directory_file": fast_directory(tmp_path), "sla_check_seconds": 0.1}
    async with start_system(settings_for, **fast) as system:
        mail = await system.notifications.post(
            "/subscriptions",
            json={
                "owner": f"kelurahan:{LOK_TUAN}",
                "channel": "email",
                "audience": f"kelurahan:{LOK_TUAN}",
                "event_types": [DIGEST_TYPE],
                "target": "lurah.loktuan@example.go.id",
            },
        )
        assert mail.status_code == 201, mail.text
        household_id = await known_household(system)
        await refer(system, household_id, "baznas-zakat-produktif")
        await eventually(
            lambda: inbox(system, "agency:baznas", event_type=ReferralOverdue.ce_type()),
            lambda body: len(body["items"]) >= 1,
        )
        today = datetime.now(UTC).astimezone(WITA).date().isoformat()
        sent = await system.notifications.post(f"/digests/{today}")
        assert sent.status_code == 200, sent.text
        assert sent.json()["written"] >= 2
        for recipient in ("agency:baznas", f"kelurahan:{LOK_TUAN}"):
            [digest] = (await inbox(system, recipient, event_type=DIGEST_TYPE))["items"]
            assert digest["title"].startswith("Ringkasan harian")
            assert "1 terlambat" in digest["title"], digest
            assert "baznas-zakat-produktif: tingkat eskalasi" in digest["body"]
        again = await system.notifications.post(f"/digests/{today}")
        assert again.json()["written"] == 0
        engine = system.runtime("notifications").engine
        async with engine.connect() as conn:
            mails = (
                await conn.execute(
                    select(deliveries.c.target, deliveries.c.subject).where(
                        deliveries.c.event_type == DIGEST_TYPE
                    )
                )
            ).all()
        assert [m.target for m in mails] == ["lurah.loktuan@example.go.id"]
        assert mails[0].subject.startswith("[Sinergi] Ringkasan harian")


async def test_an_agency_webhook_receives_its_referral_signed_and_once_with_its_log(
    settings_for: Any,
) -> None:
    async with receiving() as receiver, start_system(settings_for, **FAST) as system:
        url, _ = receiver.endpoint("baznas", Behaviour(fail_first=1))
        created = await system.notifications.post(
            "/subscriptions",
            json={
                "owner": "agency:baznas",
                "channel": "webhook",
                "audience": "agency:baznas",
                "target": url,
            },
        )
        assert created.status_code == 201, created.text
        receiver.secrets["baznas"] = created.json()["secret"]  # the receiver verifies with it
        household_id = await known_household(system)
        referral = await refer(system, household_id, "baznas-zakat-produktif")
        await step(system.referrals, referral["id"], "receive", BAZNAS, version=1)
        await eventually(
            lambda: asyncio.sleep(0, len(receiver.accepted_ids("baznas"))),
            lambda count: count == 2,
        )
        assert receiver.bad_signatures == 0
        # A retried delivery can arrive after a later one: receivers order by the data.
        by_type = {b["type"]: b for b in receiver.bodies}
        assert set(by_type) == {ReferralRequested.ce_type(), ReferralStatusChanged.ce_type()}
        requested = by_type[ReferralRequested.ce_type()]
        assert requested["data"]["referral_id"] == referral["id"]
        assert requested["notice"]["title"] == "Rujukan baru: baznas-zakat-produktif"
        logs = {}
        for event_id in receiver.accepted_ids("baznas"):
            found = await eventually(  # the sender records the answer just after the receiver
                lambda event_id=event_id: system.notifications.get(
                    "/deliveries", params={"event_id": event_id}, headers=COORDINATOR
                ),
                lambda r: r.json()["items"][0]["state"] == "delivered",
            )
            [delivery] = found.json()["items"]
            one = await system.notifications.get(
                f"/deliveries/{delivery['id']}", headers=COORDINATOR
            )
            logs[event_id] = (delivery["attempts"], [a["outcome"] for a in one.json()["log"]])
        # Whichever reached the receiver first got its 500 and was retried; the other went once.
        assert sorted(logs.values()) == [(1, ["ok"]), (2, ["error", "ok"])]
