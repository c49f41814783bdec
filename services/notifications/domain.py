"""Who hears of an event by default (its audiences). No I/O here.

An audience is a plain string, the same one subscriptions follow and inboxes are kept under:

- `agency:<code>`: an agency hears of referrals addressed to it and of their changes;
- `kelurahan:<code>`: the lurah's office hears of new and returned households, NIK conflicts,
  suspected duplicates, overdue referrals and re-assessments in the kelurahan;
- `rt:<kelurahan code>:<rw>:<rt>`: the Ketua RT hears that the kelurahan returned a household;
- `city`: the coordinators hear of every escalation (an overdue referral);
- the referrer of a referral (an `agency:…`, `kelurahan:…` or `coordinator:…` actor) hears
  of what the receiving agency did with it, so the loop closes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sinergi_contracts import (
    ChildStuntingDetected,
    DuplicateSuspected,
    Event,
    HouseholdRegistered,
    HouseholdReturned,
    HouseholdSubmitted,
    NikConflictDetected,
    ReassessmentRequested,
    ReferralOverdue,
    ReferralRequested,
    ReferralStatusChanged,
)

CITY: Final = "city"
# The events an agency hears of, copied to its NATS subjects too.
AGENCY_EVENTS: Final = (ReferralRequested, ReferralStatusChanged, ReferralOverdue)


@dataclass(frozen=True)
class Place:
    """Where a household is (from its registration)."""

    kelurahan_code: str
    rw: int
    rt: int


@dataclass(frozen=True)
class Party:
    """Who is party to a referral (from its request)."""

    agency: str
    referrer: str
    kelurahan_code: str
    programme: str


def agency_audience(code: str) -> str:
    return f"agency:{code}"


def kelurahan_audience(code: str) -> str:
    return f"kelurahan:{code}"


def rt_audience(place: Place) -> str:
    return f"rt:{place.kelurahan_code}:{place.rw}:{place.rt}"


def agency_of(audience: str) -> str | None:
    """The agency code of an `agency:<code>` audience."""
    kind, _, code = audience.partition(":")
    return code if kind == "agency" and code else None


# Registry events the kelurahan office must act on, with the household's place.
_KELURAHAN_EVENTS: Final = (
    HouseholdRegistered,
    HouseholdSubmitted,
    HouseholdReturned,
    NikConflictDetected,
    DuplicateSuspected,
    ChildStuntingDetected,
)


def hears_health(audience: str, health_agencies: frozenset[str]) -> bool:
    """Whether `audience` is sent an event's health details (UU PDP: specific personal data):
    the household's own kelurahan and the health agencies (`health: true` in the directory),
    as over HTTP; other agencies, RTs and the city get the event without them."""
    kind, _, code = audience.partition(":")
    return kind == "kelurahan" or (kind == "agency" and code in health_agencies)


def audiences(event: Event, place: Place | None, party: Party | None) -> list[str]:
    """The default audiences of `event`, without repeats, in a stable order.

    `place` is the household's (None if its registration was never seen); `party` the
    referral's (None for other events, or a request not seen).
    """
    found: list[str] = []
    if isinstance(event, _KELURAHAN_EVENTS) and place is not None:
        found.append(kelurahan_audience(place.kelurahan_code))
        if isinstance(event, HouseholdReturned):
            found.append(rt_audience(place))
    elif isinstance(event, ReferralRequested):
        found.append(agency_audience(event.agency))
    elif isinstance(event, ReferralStatusChanged):
        found.append(agency_audience(event.agency))
        if party is not None and party.referrer != event.actor and _is_person(party.referrer):
            found.append(party.referrer)
    elif isinstance(event, ReferralOverdue):
        found += [
            agency_audience(event.agency),
            kelurahan_audience(event.kelurahan_code),
            CITY,
        ]
    elif isinstance(event, ReassessmentRequested):
        found.append(kelurahan_audience(event.kelurahan_code))
    return list(dict.fromkeys(found))


def _is_person(actor: str) -> bool:
    """An actor someone reads for (not `system:<part>`, e.g. the automatic referral rules)."""
    return not actor.startswith("system:")
