"""What the notifications service listens to."""

from __future__ import annotations

from sinergi_contracts import HouseholdRegistered, subjects

from services.notifications.handlers import fill_inboxes
from sinergi.consumer import Subscription

SUBSCRIPTIONS = (
    Subscription(
        durable=subjects.INBOX_DURABLE,
        filter_subject=subjects.event_filter(HouseholdRegistered.service, HouseholdRegistered.name),
        apply=fill_inboxes,
        consumes=(HouseholdRegistered,),
        title="notifications/inbox",
        description=(
            "Kotak masuk kelurahan: rumah tangga baru yang menunggu verifikasi. "
            "(Kelurahan inbox: new households awaiting verification.)"
        ),
    ),
)
