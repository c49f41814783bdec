"""CloudEvents 1.0 in binary content mode over NATS: attributes as ``ce-*`` headers.

The event data (the JSON of an `Event`) is the message body. Header values are percent-encoded
as the HTTP binding (3.1.3.2) prescribes, which the NATS binding adopts: space, double quote,
percent and every character outside printable ASCII. ``traceparent`` (W3C Trace Context) rides
beside the attributes so one trace spans producer and consumers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final
from urllib.parse import quote, unquote
from uuid import uuid4

from pydantic import ValidationError

from sinergi_contracts.events import Event, event_class_for

SPECVERSION: Final = "1.0"
DATACONTENTTYPE: Final = "application/json"
MSG_ID_HEADER: Final = "Nats-Msg-Id"
TRACEPARENT_HEADER: Final = "traceparent"

# Printable ASCII but for double quote and percent; `quote` adds letters, digits and "_.-~".
_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"%')
# Ids, types, sources and times are nearly always all safe: a C-speed check spares `quote`.
_ALL_SAFE = re.compile(r"[\x21\x23-\x24\x26-\x7e]*")


class EnvelopeError(ValueError):
    """A message that is not a Sinergi CloudEvent (missing header, unknown type, bad data)."""


def percent_encode(value: str) -> str:
    return value if _ALL_SAFE.fullmatch(value) else quote(value, safe=_SAFE)


def percent_decode(value: str) -> str:
    return unquote(value)


@dataclass(frozen=True)
class CloudEventHeaders:
    """The CloudEvents context attributes of one event."""

    id: str
    source: str
    type: str
    time: datetime
    subject: str
    specversion: str = SPECVERSION
    datacontenttype: str = DATACONTENTTYPE
    traceparent: str | None = None

    def to_headers(self) -> dict[str, str]:
        headers = {
            "ce-specversion": self.specversion,
            "ce-id": percent_encode(self.id),
            "ce-source": percent_encode(self.source),
            "ce-type": percent_encode(self.type),
            "ce-time": percent_encode(self.time.isoformat().replace("+00:00", "Z")),
            "ce-subject": percent_encode(self.subject),
            "ce-datacontenttype": percent_encode(self.datacontenttype),
            MSG_ID_HEADER: self.id,
        }
        if self.traceparent:
            headers[TRACEPARENT_HEADER] = self.traceparent
        return headers

    @classmethod
    def from_headers(cls, headers: Mapping[str, str] | None) -> CloudEventHeaders:
        headers = headers or {}
        try:
            specversion = headers["ce-specversion"]
            values = {
                name: percent_decode(headers[f"ce-{name}"])
                for name in ("id", "source", "type", "time", "subject")
            }
        except KeyError as missing:
            raise EnvelopeError(f"header {missing.args[0]} is missing") from None
        if specversion != SPECVERSION:
            raise EnvelopeError(f"ce-specversion {specversion!r} is not {SPECVERSION}")
        try:
            time = datetime.fromisoformat(values["time"])
        except ValueError:
            raise EnvelopeError(f"ce-time {values['time']!r} is not RFC 3339") from None
        return cls(
            id=values["id"],
            source=values["source"],
            type=values["type"],
            time=time,
            subject=values["subject"],
            specversion=specversion,
            datacontenttype=percent_decode(headers.get("ce-datacontenttype", DATACONTENTTYPE)),
            traceparent=headers.get(TRACEPARENT_HEADER),
        )


@dataclass(frozen=True)
class Envelope:
    """An event with its CloudEvents attributes, as written to the outbox and read by consumers."""

    event: Event
    attributes: CloudEventHeaders = field()

    @classmethod
    def wrap(
        cls,
        event: Event,
        *,
        source: str,
        event_id: str | None = None,
        time: datetime | None = None,
        traceparent: str | None = None,
    ) -> Envelope:
        return cls(
            event=event,
            attributes=CloudEventHeaders(
                id=event_id or str(uuid4()),
                source=source,
                type=event.ce_type(),
                time=time or datetime.now(UTC),
                subject=str(event.household_id),
                traceparent=traceparent,
            ),
        )

    @property
    def id(self) -> str:
        return self.attributes.id

    @property
    def nats_subject(self) -> str:
        return self.event.subject()

    def data(self) -> bytes:
        return self.event.model_dump_json().encode()

    @classmethod
    def from_message(cls, headers: Mapping[str, str] | None, data: bytes) -> Envelope:
        """Read a message published in binary mode; `EnvelopeError` says what is wrong."""
        attributes = CloudEventHeaders.from_headers(headers)
        event_class = event_class_for(attributes.type)
        if event_class is None:
            raise EnvelopeError(f"unknown event type {attributes.type!r}")
        try:
            event = event_class.model_validate_json(data)
        except ValidationError as invalid:
            raise EnvelopeError(f"{attributes.type} data is invalid: {invalid}") from None
        return cls(event=event, attributes=attributes)
