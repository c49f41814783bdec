"""Sinergi event contracts: what every service publishes, how it is addressed and carried.

An agency system needs only this package and nats-py to follow the events addressed to it.
"""

from sinergi_contracts.envelope import CloudEventHeaders, Envelope, EnvelopeError
from sinergi_contracts.events import EVENT_TYPES, Event, event_class_for, without_health
from sinergi_contracts.household import (
    ChildMeasured,
    ChildStuntingDetected,
    DuplicateDismissed,
    DuplicateSuspected,
    HouseholdAssessed,
    HouseholdRegistered,
    HouseholdReturned,
    HouseholdSubmitted,
    HouseholdVerified,
    HouseholdVisited,
    KkChanged,
    MemberAdded,
    MembersMerged,
    NikConflictDetected,
    NikConflictResolved,
    PovertyStatusChanged,
)
from sinergi_contracts.referral import (
    Outcome,
    ReassessmentRequested,
    ReferralOverdue,
    ReferralRequested,
    ReferralStatusChanged,
)

__all__ = [
    "EVENT_TYPES",
    "ChildMeasured",
    "ChildStuntingDetected",
    "CloudEventHeaders",
    "DuplicateDismissed",
    "DuplicateSuspected",
    "Envelope",
    "EnvelopeError",
    "Event",
    "HouseholdAssessed",
    "HouseholdRegistered",
    "HouseholdReturned",
    "HouseholdSubmitted",
    "HouseholdVerified",
    "HouseholdVisited",
    "KkChanged",
    "MemberAdded",
    "MembersMerged",
    "NikConflictDetected",
    "NikConflictResolved",
    "Outcome",
    "PovertyStatusChanged",
    "ReassessmentRequested",
    "ReferralOverdue",
    "ReferralRequested",
    "ReferralStatusChanged",
    "event_class_for",
    "without_health",
]
