"""CloudEvents binary mode over NATS: headers, percent-encoding and the errors a reader sees."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from sinergi_contracts import Envelope, EnvelopeError, HouseholdRegistered
from sinergi_contracts.envelope import CloudEventHeaders, percent_decode, percent_encode


def registered() -> HouseholdRegistered:
    return HouseholdRegistered(
        household_id=uuid4(),
        kelurahan_code="64.74.02.1006",
        rw=2,
        rt=4,
        address="Jl. Kapal Laut",
        head_name="Ahmad",
        registered_at=datetime(2026, 11, 28, 8, 0, tzinfo=UTC),
    )


def test_an_envelope_round_trips_through_nats_headers_and_body() -> None:
    envelope = Envelope.wrap(
        registered(),
        source="/sinergi/registry",
        traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01",
    )
    headers = envelope.attributes.to_headers()
    assert headers["ce-specversion"] == "1.0"
    assert headers["ce-type"] == "id.go.bontang.sinergi.registry.household_registered.v1"
    assert headers["Nats-Msg-Id"] == envelope.id
    assert headers["ce-time"].endswith("Z")
    read = Envelope.from_message(headers, envelope.data())
    assert read.event == envelope.event
    assert read.attributes == envelope.attributes


def test_header_values_are_percent_encoded_as_the_binding_prescribes() -> None:
    assert percent_encode('Tanjung Laut "Indah" 100%') == "Tanjung%20Laut%20%22Indah%22%20100%25"
    assert percent_encode("Api-Api/RT.03") == "Api-Api/RT.03"
    assert percent_encode("Bontang—Kaltim") == "Bontang%E2%80%94Kaltim"
    assert percent_decode(percent_encode('é € " %')) == 'é € " %'


def test_a_source_with_spaces_survives_the_headers() -> None:
    attributes = CloudEventHeaders(
        id="1", source="/sinergi/kelurahan Lok Tuan", type="t", time=datetime.now(UTC), subject="s"
    )
    assert (
        CloudEventHeaders.from_headers(attributes.to_headers()).source
        == "/sinergi/kelurahan Lok Tuan"
    )


@pytest.mark.parametrize(
    ("drop", "change", "complaint"),
    [
        ("ce-type", {}, "ce-type is missing"),
        (None, {"ce-specversion": "0.3"}, "is not 1.0"),
        (None, {"ce-type": "id.go.bontang.sinergi.registry.unknown.v1"}, "unknown event type"),
        (None, {"ce-time": "kemarin"}, "not RFC 3339"),
    ],
)
def test_a_message_that_is_not_a_sinergi_cloudevent_is_refused_with_the_reason(
    drop: str | None, change: dict[str, str], complaint: str
) -> None:
    envelope = Envelope.wrap(registered(), source="/sinergi/registry")
    headers = envelope.attributes.to_headers() | change
    if drop:
        del headers[drop]
    with pytest.raises(EnvelopeError, match=complaint):
        Envelope.from_message(headers, envelope.data())


def test_invalid_data_is_refused_naming_the_type() -> None:
    envelope = Envelope.wrap(registered(), source="/sinergi/registry")
    with pytest.raises(EnvelopeError, match=r"household_registered\.v1 data is invalid"):
        Envelope.from_message(envelope.attributes.to_headers(), b'{"household_id": 1}')
