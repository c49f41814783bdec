"""Domain rules without I/O: what an event means for inboxes and timelines."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from uuid import uuid4

from sinergi_contracts import Envelope, HouseholdRegistered

from services.notifications.domain import Place, audiences
from services.notifications.render import render
from services.referrals.domain import timeline_entry, trace_id_of
from services.registry.domain import DuplicateKK, register_household
from sinergi.consumer import Delivered

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


def registered_envelope(kelurahan: str = "64.74.02.1001") -> Envelope:
    _, event = register_household(
        no_kk="6474020101200002",
        kelurahan_code=kelurahan,
        rw=1,
        rt=7,
        address=" Jl. Cumi-Cumi ",
        head_name=" Rahmat ",
        now=NOW,
    )
    return Envelope.wrap(event, source="/sinergi/registry")


def test_registering_a_household_gives_its_event_with_the_same_facts() -> None:
    household, event = register_household(
        no_kk="6474020101200002",
        kelurahan_code="64.74.02.1001",
        rw=1,
        rt=7,
        address=" Jl. Cumi-Cumi ",
        head_name=" Rahmat ",
        now=NOW,
    )
    assert isinstance(event, HouseholdRegistered)
    assert event.household_id == household.id
    assert (event.address, event.head_name) == ("Jl. Cumi-Cumi", "Rahmat")
    assert household.version == 1


def test_a_duplicate_family_card_message_shows_only_the_ends_of_the_number() -> None:
    message = str(DuplicateKK("6474020101200002"))
    assert "6474…0002" in message
    assert "6474020101200002" not in message


def test_a_registered_household_goes_to_its_own_kelurahan_inbox_only() -> None:
    event = registered_envelope("64.74.02.1006").event
    place = Place("64.74.02.1006", 1, 7)
    assert audiences(event, place, None) == ["kelurahan:64.74.02.1006"]
    notice = render(event, place=place, party=None)
    assert notice.body == "RT 007/RW 001 mendaftarkan rumah tangga Rahmat, Jl. Cumi-Cumi."


def test_a_timeline_entry_keeps_the_stream_position_and_the_trace() -> None:
    envelope = registered_envelope()
    traced = replace(
        envelope,
        attributes=replace(envelope.attributes, traceparent=f"00-{'c' * 32}-{'d' * 16}-01"),
    )
    entry = timeline_entry(Delivered(traced, stream_seq=42, subject=traced.nats_subject))
    assert entry.stream_seq == 42
    assert entry.trace_id == "c" * 32
    assert entry.household_id == str(traced.event.household_id)


def test_a_malformed_traceparent_gives_no_trace_id() -> None:
    assert trace_id_of("garbage") is None
    assert trace_id_of(None) is None
    assert trace_id_of(f"00-{uuid4().hex}-{'e' * 16}-01") is not None
