"""Every NATS subject, stream and durable consumer of Sinergi, named in one place.

Subject scheme (tokens separated by dots)::

    sinergi.hh.<household_id>.<service>.<event>     domain events about one household
    sinergi.agency.<agency_code>.<household_id>.<event>   deliveries addressed to one agency
    sinergi.dlq.<durable>                            dead letters of one durable consumer

so that

* one household's whole timeline, from every service, is ``sinergi.hh.<household_id>.>``;
* one agency's deliveries are ``sinergi.agency.<agency_code>.>``;
* NATS permissions confine a service to ``sinergi.hh.*.<service>.>`` for publishing and an
  agency system to ``sinergi.agency.<agency_code>.>`` for reading.
"""

from __future__ import annotations

import re
from typing import Final

PREFIX: Final = "sinergi"

EVENTS_STREAM: Final = "SINERGI_EVENTS"
EVENTS_STREAM_SUBJECTS: Final = (f"{PREFIX}.hh.>",)

AGENCY_STREAM: Final = "SINERGI_AGENCY"
AGENCY_STREAM_SUBJECTS: Final = (f"{PREFIX}.agency.>",)

DLQ_STREAM: Final = "SINERGI_DLQ"
DLQ_STREAM_SUBJECTS: Final = (f"{PREFIX}.dlq.>",)

# The server's MAX_DELIVERIES advisories are core NATS messages; this stream keeps them so a
# dead letter is not lost while the service that moves it to the DLQ is down.
ADVISORY_STREAM: Final = "SINERGI_ADVISORIES"
ADVISORY_STREAM_SUBJECTS: Final = (f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{EVENTS_STREAM}.*",)

# Durable consumers: one per (service, purpose). Replicas of a service share the durable.
TIMELINE_DURABLE: Final = "referrals-timeline"
FACTS_DURABLE: Final = "referrals-facts"
INBOX_DURABLE: Final = "notifications-inbox"

DURABLES: Final = (TIMELINE_DURABLE, FACTS_DURABLE, INBOX_DURABLE)


def dead_letter_durable(durable: str) -> str:
    """The durable that moves `durable`'s exhausted messages to the dead-letter stream."""
    return f"{durable}-dlq"


SERVICES: Final = ("registry", "referrals", "notifications")


_BAD_IN_TOKEN = re.compile(r"[. *>\t\r\n]")


def _token(value: str, what: str) -> str:
    if not value or _BAD_IN_TOKEN.search(value):
        raise ValueError(f"{what} is not a valid NATS subject token: {value!r}")
    return value


def household_subject(household_id: str, service: str, event_name: str) -> str:
    """The subject an event about one household is published on."""
    return ".".join(
        (
            PREFIX,
            "hh",
            _token(household_id, "household_id"),
            _token(service, "service"),
            _token(event_name, "event_name"),
        )
    )


def household_filter(household_id: str) -> str:
    """One household's whole timeline, from every service."""
    return f"{PREFIX}.hh.{_token(household_id, 'household_id')}.>"


def service_events_filter(service: str) -> str:
    """Everything one service publishes (its NATS publish permission)."""
    return f"{PREFIX}.hh.*.{_token(service, 'service')}.>"


def event_filter(service: str, event_name: str) -> str:
    """One event type from every household."""
    return f"{PREFIX}.hh.*.{_token(service, 'service')}.{_token(event_name, 'event_name')}"


def agency_filter(agency_code: str) -> str:
    """Everything addressed to one agency."""
    return f"{PREFIX}.agency.{_token(agency_code, 'agency_code')}.>"


def dlq_subject(durable: str) -> str:
    return f"{PREFIX}.dlq.{_token(durable, 'durable')}"


def max_deliveries_advisory(stream: str, durable: str) -> str:
    """Announced by the server when a message of `durable` ran out of deliveries."""
    return f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream}.{durable}"


def agency_subject(agency: str, service: str, event_name: str) -> str:
    """The subject an event is forwarded on to one agency (stream SINERGI_AGENCY)."""
    return ".".join(
        (
            PREFIX,
            "agency",
            _token(agency, "agency"),
            _token(service, "service"),
            _token(event_name, "event_name"),
        )
    )


def inbox_prefix(user: str) -> str:
    """Where a NATS user's replies and push deliveries arrive: its only subscriptions. Pass it
    to nats-py as `connect(..., inbox_prefix=inbox_prefix(user))`."""
    return f"_INBOX.{_token(user, 'user')}"


def agency_durable(agency: str) -> str:
    """The durable consumer an agency system reads its deliveries from."""
    return f"agency-{_token(agency, 'agency')}"
