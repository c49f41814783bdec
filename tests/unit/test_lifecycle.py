"""The referral state machine, table-driven: every status × action × side."""

from __future__ import annotations

import pytest

from services.referrals import lifecycle
from services.referrals.lifecycle import IllegalTransition, WrongSide

OPEN = ["requested", "received", "accepted", "in-progress", "on-hold"]
# The legal moves as the issue states them, written out independently of the module:
# (from, action) -> (to, side)
LEGAL = {
    ("requested", "receive"): ("received", "receiver"),
    ("received", "accept"): ("accepted", "receiver"),
    ("received", "reject"): ("rejected", "receiver"),
    ("accepted", "start"): ("in-progress", "receiver"),
    ("in-progress", "hold"): ("on-hold", "receiver"),
    ("on-hold", "resume"): ("in-progress", "receiver"),
    ("in-progress", "complete"): ("completed", "receiver"),
    ("in-progress", "fail"): ("failed", "receiver"),
    ("on-hold", "fail"): ("failed", "receiver"),
    **{(status, "cancel"): ("cancelled", "referrer") for status in OPEN},
    **{
        (status, "mark-error"): ("entered-in-error", "referrer")
        for status in lifecycle.STATUSES
        if status != "entered-in-error"
    },
}
CASES = [
    (status, action, side)
    for status in lifecycle.STATUSES
    for action in lifecycle.ACTIONS
    for side in ("referrer", "receiver")
]


@pytest.mark.parametrize(("status", "action", "side"), CASES)
def test_every_transition_is_legal_only_from_its_states_and_for_its_side(
    status: lifecycle.ReferralStatus, action: str, side: lifecycle.Side
) -> None:
    legal = LEGAL.get((status, action))
    if legal is None:
        with pytest.raises(IllegalTransition) as raised:
            lifecycle.check(action, status, {side})
        assert raised.value.allowed == lifecycle.allowed(status, {side})
        assert status in str(raised.value)
    elif legal[1] != side:
        with pytest.raises(WrongSide):
            lifecycle.check(action, status, {side})
    else:
        assert lifecycle.check(action, status, {side}).to == legal[0]


def test_closed_states_allow_only_marking_an_error() -> None:
    for status in ("rejected", "completed", "failed", "cancelled"):
        assert lifecycle.allowed(status, {"referrer", "receiver"}) == ["mark-error"]
    assert lifecycle.allowed("entered-in-error", {"referrer", "receiver"}) == []


def test_someone_on_neither_side_may_do_nothing() -> None:
    assert lifecycle.sides_of("agency:baznas", referrer="kelurahan:1", agency="dspm") == set()
    with pytest.raises(WrongSide):
        lifecycle.check("accept", "received", set())


def test_reasons_and_outcomes_are_required_where_the_issue_says() -> None:
    needs = {name: a.needs for name, a in lifecycle.ACTIONS.items()}
    assert needs["reject"] == needs["cancel"] == needs["fail"] == "reason"
    assert needs["complete"] == "outcome"
