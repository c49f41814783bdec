"""Events the referrals service publishes: referrals between agencies and their lifecycle.

States follow the FHIR Task state machine as used for closed-loop social-care referrals:
requested → received → accepted | rejected → in-progress ⇄ on-hold → completed | failed;
cancelled from any open state; entered-in-error.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from sinergi_contracts.events import Event, register

ReferralStatus = Literal[
    "requested",
    "received",
    "accepted",
    "rejected",
    "in-progress",
    "on-hold",
    "completed",
    "failed",
    "cancelled",
    "entered-in-error",
]
EscalationRole = Literal["rt", "lurah", "camat", "agency_head", "coordinator"]


class ReferralEvent(Event):
    service: ClassVar[str] = "referrals"

    referral_id: UUID
    agency: str = Field(description="Code of the receiving agency, e.g. dspm, baznas, puskesmas")
    actor: str = Field(
        description="Who did it: agency:<code>, kelurahan:<code>, coordinator:<name> or "
        "system:<part>; the signed-in user once sign-in exists"
    )


class Outcome(BaseModel):
    """What was delivered when a referral completed (closed loop: the referrer sees it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    delivered: str = Field(min_length=3, description="What was given or done, in words")
    delivered_on: date
    amount_idr: int | None = Field(default=None, ge=0, description="Amount in rupiah, if any")
    enrolment: str | None = Field(default=None, description="Programme enrolment, e.g. a class")


@register
class ReferralRequested(ReferralEvent):
    """A household (or one member) was referred to an agency's programme."""

    name: ClassVar[str] = "referral_requested"
    # A stunting rule's facts (the child's z-score and category) ride on the referral.
    health_fields: ClassVar[tuple[str, ...]] = ("facts.hfa_z", "facts.hfa_category")

    programme: str
    funding: str = Field(description="Funding source of the programme: APBD, APBN, zakat, CSR")
    member_id: UUID | None = Field(default=None, description="The member concerned, if one")
    kelurahan_code: str
    note: str | None = None
    parent_id: UUID | None = Field(
        default=None, description="The referral this one hands on or re-refers"
    )
    rule: str | None = Field(default=None, description="The automatic rule that fired, if any")
    facts: dict[str, Any] | None = Field(
        default=None, description="The facts that fired the rule, as they were then"
    )
    due_at: datetime | None = Field(description="When the agency should have received it")


@register
class ReferralStatusChanged(ReferralEvent):
    """A referral moved to another state (received, accepted, rejected, completed, …)."""

    name: ClassVar[str] = "referral_status_changed"

    programme: str
    previous_status: ReferralStatus
    status: ReferralStatus
    referral_version: int = Field(description="The referral's version after the change")
    reason: str | None = Field(default=None, description="Why (rejected, cancelled, failed, …)")
    outcome: Outcome | None = Field(default=None, description="Only when completed")
    due_at: datetime | None = Field(description="Deadline of the next step, if it has one")


@register
class ReferralOverdue(ReferralEvent):
    """A referral missed its deadline and climbs the escalation ladder."""

    name: ClassVar[str] = "referral_overdue"

    programme: str
    status: ReferralStatus
    due_at: datetime
    level: int = Field(ge=1, le=5, description="1 = RT … 5 = coordinator")
    escalate_to: EscalationRole
    kelurahan_code: str


@register
class ReassessmentRequested(ReferralEvent):
    """The last open referral of an extreme-poor household closed: the kelurahan re-assesses,
    so graduation out of extreme poverty is measured, not assumed."""

    name: ClassVar[str] = "reassessment_requested"

    kelurahan_code: str
    referrals_completed: int = Field(description="Referrals of the household completed so far")
