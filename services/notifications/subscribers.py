"""What the notifications service listens to."""

from __future__ import annotations

from sinergi_contracts import EVENT_TYPES, subjects

from services.notifications import handlers
from sinergi.consumer import Subscription

SUBSCRIPTIONS = (
    Subscription(
        durable=subjects.INBOX_DURABLE,
        filter_subject=f"{subjects.PREFIX}.hh.>",
        configure=handlers.configure,
        consumes=tuple(EVENT_TYPES.values()),
        # A newer event type than this service knows has no audience here yet: ack it.
        only_consumed=True,
        title="notifications/fan-out",
        description=(
            "Setiap event ke kotak masuk, langganan (webhook, e-mail) dan subjek NATS dinas "
            "yang berhak mendengarnya. (Each event to the inboxes, subscriptions and agency "
            "subjects that hear of it.)"
        ),
    ),
)
