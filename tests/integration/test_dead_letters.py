"""A poison event is retried, then parked in the dead-letter stream; the consumer goes on."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar
from uuid import uuid4

import nats
import pytest
from sinergi_contracts import Envelope, Event, HouseholdRegistered, subjects
from sinergi_contracts.events import EVENT_TYPES, register

from sinergi.dlq import list_dead_letters, replay_dead_letter
from sinergi.natsserver import NatsServer
from tests.integration.test_slice import LOK_TUAN, household
from tests.system import eventually, start_system

pytestmark = pytest.mark.integration


class HouseholdVisitedV2(Event):
    """A newer version of an event than the consumers were started with."""

    service: ClassVar[str] = "registry"
    name: ClassVar[str] = "household_visited"
    version: ClassVar[int] = 2
    note: str


@pytest.fixture
def newer_contract() -> Iterator[type[Event]]:
    """Registers HouseholdVisitedV2 for the test only (an upgrade of the consumers)."""
    yield HouseholdVisitedV2
    EVENT_TYPES.pop(HouseholdVisitedV2.ce_type(), None)


async def test_a_malformed_event_is_retried_then_dead_lettered_and_the_consumer_goes_on(
    settings_for: Any, nats_server: NatsServer
) -> None:
    poisoned_household = str(uuid4())
    bad = Envelope.wrap(
        HouseholdRegistered(
            household_id=uuid4(),
            kelurahan_code=LOK_TUAN,
            rw=1,
            rt=1,
            address="x",
            head_name="x",
            registered_at=datetime.now(UTC),
        ),
        source="/tests",
    )
    async with start_system(settings_for) as system:
        nc = await nats.connect(nats_server.client_url())
        try:
            js = nc.jetstream()
            subject = subjects.household_subject(
                poisoned_household, "registry", HouseholdRegistered.name
            )
            await js.publish(
                subject, b'{"household_id": "not a uuid"', headers=bad.attributes.to_headers()
            )

            created = await system.registry.post("/households", json=household())
            household_id = created.json()["id"]
            await eventually(
                lambda: system.referrals.get(f"/households/{household_id}/timeline"),
                lambda r: len(r.json()["entries"]) == 1,
            )
            # Every durable that reads registry events parks its own copy.
            letters = await eventually(
                lambda: list_dead_letters(js), lambda found: len(found) == len(subjects.DURABLES)
            )
        finally:
            await nc.close()
    assert {letter.consumer for letter in letters} == set(subjects.DURABLES)
    for letter in letters:
        assert letter.original_subject == subject
        assert letter.deliveries == 3  # max_deliver in the test settings
        assert letter.event_id == bad.id
        assert letter.data == b'{"household_id": "not a uuid"'


async def test_a_dead_letter_replayed_after_an_upgrade_reaches_only_the_consumer_that_missed_it(
    settings_for: Any, nats_server: NatsServer, newer_contract: type[Event]
) -> None:
    async with start_system(settings_for) as system:
        created = await system.registry.post("/households", json=household())
        household_id = created.json()["id"]
        visit = Envelope.wrap(
            HouseholdVisitedV2(household_id=household_id, note="Tengok Tetangga"),
            source="/sinergi/registry",
        )
        nc = await nats.connect(nats_server.client_url())
        try:
            js = nc.jetstream()
            # The timeline consumer does not know this type yet: it dead-letters it.
            await js.publish(
                visit.nats_subject, visit.data(), headers=visit.attributes.to_headers()
            )
            letters = await eventually(
                lambda: list_dead_letters(js, consumer=subjects.TIMELINE_DURABLE),
                lambda found: len(found) == 1,
            )
            register(newer_contract)  # the consumer is upgraded
            await replay_dead_letter(js, letters[0].dlq_seq)

            timeline = await eventually(
                lambda: system.referrals.get(f"/households/{household_id}/timeline"),
                lambda r: len(r.json()["entries"]) == 2,
            )
            assert await list_dead_letters(js) == []
        finally:
            await nc.close()
    entries = timeline.json()["entries"]
    assert [e["type"] for e in entries] == [
        HouseholdRegistered.ce_type(),
        HouseholdVisitedV2.ce_type(),
    ]
    assert entries[1]["event_id"] == visit.id
