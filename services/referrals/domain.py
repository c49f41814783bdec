"""The case timeline: what happened to a household, from every service, in stream order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sinergi.consumer import Delivered


@dataclass(frozen=True)
class TimelineEntry:
    event_id: str
    household_id: str
    stream_seq: int
    type: str
    source: str
    subject: str
    occurred_at: datetime
    trace_id: str | None
    data: str  # the event's JSON, as it was published


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id inside a W3C traceparent ("00-<trace id>-<span id>-<flags>")."""
    if not traceparent:
        return None
    parts = traceparent.split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


def timeline_entry(delivered: Delivered) -> TimelineEntry:
    attributes = delivered.envelope.attributes
    event = delivered.envelope.event
    return TimelineEntry(
        event_id=attributes.id,
        household_id=str(event.household_id),
        stream_seq=delivered.stream_seq,
        type=attributes.type,
        source=attributes.source,
        subject=delivered.subject,
        occurred_at=attributes.time,
        trace_id=trace_id_of(attributes.traceparent),
        data=delivered.envelope.data().decode(),
    )


def who_and_agency(data: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """Who did it and for which agency, as the event itself says.

    Referral events name an `actor` (e.g. "agency:dspm", "kelurahan:64.74.01.1003") and the
    `agency` concerned; registry events say who `recorded_by` and name no agency. Read from
    the stored data at read time, so events of a newer kind show them without a rebuild.
    """
    who = data.get("actor") or data.get("recorded_by")
    agency = data.get("agency")
    return (
        who if isinstance(who, str) else None,
        agency if isinstance(agency, str) and agency else None,
    )
