"""What the notifications service listens to."""

from __future__ import annotations

from sinergi_contracts import HouseholdRegistered, subjects

from services.notifications.handlers import fill_inboxes
from sinergi.service import Runtime
from sinergi.subscribers import add_batch_subscriber


def register(runtime: Runtime) -> None:
    add_batch_subscriber(
        runtime,
        durable=subjects.INBOX_DURABLE,
        filter_subject=subjects.event_filter(HouseholdRegistered.service, HouseholdRegistered.name),
        apply=fill_inboxes,
        title="notifications/inbox",
        description=(
            "Kotak masuk kelurahan: rumah tangga baru yang menunggu verifikasi. "
            "(Kelurahan inbox: new households awaiting verification.)"
        ),
    )
