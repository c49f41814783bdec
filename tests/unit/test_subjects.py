"""The subject scheme gives one filter per household timeline and one per agency."""

from __future__ import annotations

import pytest
from sinergi_contracts import subjects


def matches(filter_subject: str, subject: str) -> bool:
    """NATS wildcard matching: `*` is one token, `>` the rest."""
    pattern, tokens = filter_subject.split("."), subject.split(".")
    for i, part in enumerate(pattern):
        if part == ">":
            return len(tokens) > i
        if i >= len(tokens) or (part != "*" and part != tokens[i]):
            return False
    return len(pattern) == len(tokens)


def test_one_filter_holds_a_households_events_from_every_service() -> None:
    timeline = subjects.household_filter("hh-1")
    assert matches(timeline, subjects.household_subject("hh-1", "registry", "household_registered"))
    assert matches(timeline, subjects.household_subject("hh-1", "referrals", "referral_accepted"))
    assert not matches(
        timeline, subjects.household_subject("hh-2", "registry", "household_registered")
    )


def test_a_service_publish_permission_covers_only_its_own_events() -> None:
    registry = subjects.service_events_filter("registry")
    assert matches(registry, subjects.household_subject("hh-1", "registry", "household_registered"))
    assert not matches(
        registry, subjects.household_subject("hh-1", "referrals", "referral_accepted")
    )


def test_an_agency_filter_holds_only_its_deliveries() -> None:
    assert matches(
        subjects.agency_filter("dspm"),
        subjects.agency_subject("dspm", "referrals", "referral_requested"),
    )
    assert not matches(
        subjects.agency_filter("dspm"),
        subjects.agency_subject("baznas", "referrals", "referral_requested"),
    )


@pytest.mark.parametrize("token", ["", "a.b", "a b", "*", ">"])
def test_a_token_that_would_break_the_scheme_is_refused(token: str) -> None:
    with pytest.raises(ValueError, match="not a valid NATS subject token"):
        subjects.household_subject(token, "registry", "household_registered")
