"""What the referrals service listens to."""

from __future__ import annotations

from sinergi_contracts import EVENT_TYPES, subjects

from services.referrals import facts
from services.referrals.handlers import project_timeline
from sinergi.consumer import Subscription

SUBSCRIPTIONS = (
    Subscription(
        durable=subjects.TIMELINE_DURABLE,
        filter_subject=f"{subjects.PREFIX}.hh.>",
        apply=project_timeline,
        consumes=tuple(EVENT_TYPES.values()),
        title="referrals/timeline",
        description=(
            "Linimasa kasus: setiap event rumah tangga dari semua layanan, urut stream. "
            "(Case timeline: every household event from every service, in stream order.)"
        ),
    ),
    Subscription(
        durable=subjects.FACTS_DURABLE,
        filter_subject=subjects.service_events_filter("registry"),
        configure=facts.configure,
        consumes=facts.CONSUMES,
        only_consumed=True,
        title="referrals/facts",
        description=(
            "Fakta rumah tangga dari registry dan rujukan otomatis menurut aturan. "
            "(Household facts from the registry and automatic referrals by rule.)"
        ),
    ),
)
