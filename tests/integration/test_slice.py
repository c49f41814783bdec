"""The thin slice through all three services, over HTTP, with a real nats-server and database."""

from __future__ import annotations

from typing import Any

import nats
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sinergi_contracts import HouseholdRegistered, subjects

from tests.system import eventually, start_system
from tests.tokens import as_actor

pytestmark = pytest.mark.integration

LOK_TUAN = "64.74.01.1003"


def household(no_kk: str = "6474010101200001", **changes: Any) -> dict[str, Any]:
    return {
        "no_kk": no_kk,
        "kelurahan_code": LOK_TUAN,
        "rw": 3,
        "rt": 12,
        "address": "Jl. Pupuk Raya Gg. Mawar No. 7",
        "head_name": "Siti Aminah",
    } | changes


async def test_a_registered_household_reaches_the_timeline_and_the_kelurahan_inbox(
    settings_for: Any, nats_server: Any
) -> None:
    async with start_system(settings_for) as system:
        created = await system.registry.post("/households", json=household())
        assert created.status_code == 201, created.text
        household_id = created.json()["id"]
        assert created.json()["no_kk_masked"] == "************0001"

        timeline = await eventually(
            lambda: system.referrals.get(f"/households/{household_id}/timeline"),
            lambda r: len(r.json()["entries"]) == 1,
        )
        entry = timeline.json()["entries"][0]
        assert entry["type"] == HouseholdRegistered.ce_type()
        assert entry["source"] == "/sinergi/registry"
        assert entry["data"]["head_name"] == "Siti Aminah"

        inbox = await eventually(
            lambda: system.notifications.get(f"/inbox?recipient=kelurahan:{LOK_TUAN}"),
            lambda r: r.json()["unread"] == 1,
        )
        item = inbox.json()["items"][0]
        assert item["household_id"] == household_id
        assert item["title"] == "Rumah tangga baru terdaftar"
        assert item["event_id"] == entry["event_id"]

    # The step is on NATS as a CloudEvent in binary mode, on the household's own subject.
    nc = await nats.connect(nats_server.client_url())
    try:
        js = nc.jetstream()
        sub = await js.subscribe(subjects.household_filter(household_id), ordered_consumer=True)
        msg = await sub.next_msg(timeout=5)
        assert msg.subject == f"sinergi.hh.{household_id}.registry.household_registered"
        assert msg.headers is not None
        assert msg.headers["ce-specversion"] == "1.0"
        assert msg.headers["ce-type"] == HouseholdRegistered.ce_type()
        assert msg.headers["ce-id"] == msg.headers["Nats-Msg-Id"] == entry["event_id"]
        assert msg.headers["ce-subject"] == household_id
        assert msg.headers["ce-datacontenttype"] == "application/json"
    finally:
        await nc.close()


async def test_a_request_trace_id_appears_on_the_consumer_spans(settings_for: Any) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with start_system(settings_for, tracer_provider=provider) as system:
        created = await system.registry.post("/households", json=household())
        household_id = created.json()["id"]
        await eventually(
            lambda: system.notifications.get(f"/inbox?recipient=kelurahan:{LOK_TUAN}"),
            lambda r: r.json()["unread"] == 1,
        )
        timeline = await eventually(
            lambda: system.referrals.get(f"/households/{household_id}/timeline"),
            lambda r: len(r.json()["entries"]) == 1,
        )
        await eventually(  # the referrals service knows the household: its facts are in
            lambda: system.referrals.post(
                "/referrals",
                headers=as_actor(f"kelurahan:{LOK_TUAN}"),
                json={"household_id": household_id, "programme": "-"},
            ),
            lambda r: r.status_code == 422,
        )

    spans = exporter.get_finished_spans()
    request = next(s for s in spans if s.name == "POST /households")
    trace_id = request.context.trace_id
    consumers = {s.name for s in spans if s.context.trace_id == trace_id and "process" in s.name}
    assert consumers == {
        f"{durable} process {HouseholdRegistered.ce_type()}" for durable in subjects.DURABLES
    }
    assert any(s.name.endswith(" publish") and s.context.trace_id == trace_id for s in spans)
    assert timeline.json()["entries"][0]["trace_id"] == format(trace_id, "032x")


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"no_kk": "12345"}, "no_kk", "string_pattern_mismatch"),
        ({"rt": 0}, "rt", "greater_than_equal"),
        ({"rw": "tiga"}, "rw", "int_parsing"),
        ({"kelurahan_code": "64.74.09.9999"}, "kelurahan_code", "value_error"),
        ({"status": "verified"}, "status", "extra_forbidden"),
    ],
)
async def test_bad_input_gets_a_422_naming_the_field_and_the_rule(
    settings_for: Any, changes: dict[str, Any], field: str, rule: str
) -> None:
    async with start_system(settings_for, services=("registry",)) as system:
        response = await system.registry.post("/households", json=household(**changes))
    assert response.status_code == 422
    problems = response.json()["errors"]
    assert [(p["field"], p["rule"]) for p in problems] == [(field, rule)]
    assert problems[0]["pesan"].startswith(f"{field}: ")
    assert response.json()["pesan"] == "Data tidak valid"


async def test_malformed_json_and_missing_fields_are_422_not_500(settings_for: Any) -> None:
    async with start_system(settings_for, services=("registry",)) as system:
        broken = await system.registry.post(
            "/households", content=b"{not json", headers={"content-type": "application/json"}
        )
        empty = await system.registry.post("/households", json={})
    assert broken.status_code == 422
    assert empty.status_code == 422
    missing = {p["field"] for p in empty.json()["errors"]}
    assert missing == {"no_kk", "kelurahan_code", "rw", "rt", "address", "head_name"}
    assert all(p["pesan"].endswith("wajib diisi") for p in empty.json()["errors"])


async def test_the_same_family_card_cannot_be_registered_twice(settings_for: Any) -> None:
    async with start_system(settings_for, services=("registry",)) as system:
        first = await system.registry.post("/households", json=household())
        second = await system.registry.post("/households", json=household(rt=5))
    assert first.status_code == 201
    assert second.status_code == 409
    assert "sudah terdaftar" in second.json()["pesan"]
    assert second.json()["message"] == "family card already registered"
