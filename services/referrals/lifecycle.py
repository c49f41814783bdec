"""The referral state machine (FHIR Task, as used for closed-loop social-care referrals). Pure.

    requested → received → accepted | rejected → in-progress ⇄ on-hold → completed | failed
    cancelled from any open state; entered-in-error from any state but itself.

Only the referring side may request, cancel or mark an error; only the receiving agency may
receive, accept, reject, start, hold, resume, complete and fail. Rejected, cancelled, failed
and entered-in-error need a reason; completed needs an outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

from sinergi_contracts.referral import ReferralStatus

from sinergi.errors import Conflict, Forbidden

Side = Literal["referrer", "receiver"]
Needs = Literal["reason", "outcome"] | None

STATUSES: Final[tuple[ReferralStatus, ...]] = get_args(ReferralStatus)
OPEN: Final[tuple[ReferralStatus, ...]] = (
    "requested",
    "received",
    "accepted",
    "in-progress",
    "on-hold",
)
# Agreed with the agency: counts as a benefit the household receives (no second one by accident).
ACTIVE: Final[tuple[ReferralStatus, ...]] = ("accepted", "in-progress", "on-hold", "completed")


@dataclass(frozen=True)
class Action:
    name: str
    to: ReferralStatus
    sources: tuple[ReferralStatus, ...]
    side: Side
    needs: Needs = None


ACTIONS: Final[dict[str, Action]] = {
    a.name: a
    for a in (
        Action("receive", "received", ("requested",), "receiver"),
        Action("accept", "accepted", ("received",), "receiver"),
        Action("reject", "rejected", ("received",), "receiver", "reason"),
        Action("start", "in-progress", ("accepted",), "receiver"),
        Action("hold", "on-hold", ("in-progress",), "receiver", "reason"),
        Action("resume", "in-progress", ("on-hold",), "receiver"),
        Action("complete", "completed", ("in-progress",), "receiver", "outcome"),
        Action("fail", "failed", ("in-progress", "on-hold"), "receiver", "reason"),
        Action("cancel", "cancelled", OPEN, "referrer", "reason"),
        Action(
            "mark-error",
            "entered-in-error",
            tuple(s for s in STATUSES if s != "entered-in-error"),
            "referrer",
            "reason",
        ),
    )
}


class IllegalTransition(Conflict):
    def __init__(self, status: ReferralStatus, action: str, allowed: list[str]):
        shown = ", ".join(allowed) or "-"
        super().__init__(
            f"rujukan berstatus {status} tidak bisa '{action}'; yang boleh: {shown} "
            f"(a referral in state {status} cannot '{action}'; allowed: {shown})"
        )
        self.allowed = allowed


class WrongSide(Forbidden):
    def __init__(self, action: str, side: Side):
        who = {
            "referrer": ("pihak perujuk", "the referring side"),
            "receiver": ("instansi penerima", "the receiving agency"),
        }[side]
        super().__init__(f"hanya {who[0]} yang boleh '{action}' (only {who[1]} may '{action}')")


def sides_of(actor: str, *, referrer: str, agency: str) -> set[Side]:
    """Which side(s) of a referral `actor` is on (an agency may hand a case to itself)."""
    sides: set[Side] = set()
    if actor == referrer:
        sides.add("referrer")
    if actor == f"agency:{agency}":
        sides.add("receiver")
    return sides


def allowed(status: ReferralStatus, sides: set[Side]) -> list[str]:
    """The actions `sides` may take on a referral in `status`."""
    return [a.name for a in ACTIONS.values() if status in a.sources and a.side in sides]


def check(action_name: str, status: ReferralStatus, sides: set[Side]) -> Action:
    """The action, if this side may take it now; else why not (409 or 403)."""
    action = ACTIONS[action_name]
    if not sides:
        raise WrongSide(action_name, action.side)
    if status not in action.sources:
        raise IllegalTransition(status, action_name, allowed(status, sides))
    if action.side not in sides:
        raise WrongSide(action_name, action.side)
    return action
