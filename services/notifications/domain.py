"""Who hears of an event, and what they read. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sinergi_contracts import Envelope, HouseholdRegistered


@dataclass(frozen=True)
class InboxItem:
    recipient: str
    event_id: str
    event_type: str
    household_id: str
    title: str
    body: str
    created_at: datetime


def kelurahan_inbox(code: str) -> str:
    return f"kelurahan:{code}"


def inbox_items_for(envelope: Envelope) -> list[InboxItem]:
    """The inbox items one event produces (none for events nobody subscribes to yet)."""
    event = envelope.event
    if isinstance(event, HouseholdRegistered):
        return [
            InboxItem(
                recipient=kelurahan_inbox(event.kelurahan_code),
                event_id=envelope.id,
                event_type=envelope.attributes.type,
                household_id=str(event.household_id),
                title="Rumah tangga baru menunggu verifikasi",
                body=(
                    f"RT {event.rt:03d}/RW {event.rw:03d} mendaftarkan rumah tangga "
                    f"{event.head_name}, {event.address}."
                ),
                created_at=envelope.attributes.time,
            )
        ]
    return []
