"""Every event an audience hears of renders in Bahasa Indonesia and in English, and goes to
the audiences the issue names."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4

import pytest
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

from services.notifications.domain import Party, Place, audiences
from services.notifications.render import LANGUAGES, render

HH = uuid4()
KEL = "64.74.01.1001"
PLACE = Place(KEL, 3, 7)
WHEN = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
REFERRAL = {"household_id": HH, "referral_id": uuid4(), "agency": "baznas"}
PARTY = Party("baznas", f"kelurahan:{KEL}", KEL, "baznas-zakat-produktif")

EVENTS: list[tuple[Event, list[str]]] = [
    (
        HouseholdRegistered(
            household_id=HH, kelurahan_code=KEL, rw=3, rt=7, address="Jl. Kenanga 5",
            head_name="Rahmat", registered_at=WHEN,
        ),
        [f"kelurahan:{KEL}"],
    ),
    (HouseholdSubmitted(household_id=HH), [f"kelurahan:{KEL}"]),
    (
        HouseholdReturned(household_id=HH, note="alamat kurang"),
        [f"kelurahan:{KEL}", f"rt:{KEL}:3:7"],
    ),
    (
        NikConflictDetected(
            household_id=HH, conflict_id=uuid4(), member_id=uuid4(),
            other_household_id=uuid4(), nik_last4="0001",
        ),
        [f"kelurahan:{KEL}"],
    ),
    (
        DuplicateSuspected(
            household_id=HH, candidate_id=uuid4(), member_id=uuid4(), other_member_id=uuid4(),
            other_household_id=uuid4(), score=0.97, reasons=["nama mirip", "tanggal lahir sama"],
        ),
        [f"kelurahan:{KEL}"],
    ),
    (
        ChildStuntingDetected(
            household_id=HH, member_id=uuid4(), measurement_id=uuid4(),
            measured_on=date(2026, 11, 20), hfa_z=-3.3, hfa_category="sangat_pendek",
            kelurahan_code=KEL,
        ),
        [f"kelurahan:{KEL}"],
    ),
    (
        ReferralRequested(
            **REFERRAL, actor=f"kelurahan:{KEL}", programme="baznas-zakat-produktif",
            funding="zakat", kelurahan_code=KEL, due_at=WHEN,
        ),
        ["agency:baznas"],
    ),
    (
        ReferralStatusChanged(
            **REFERRAL, actor="agency:baznas", programme="baznas-zakat-produktif",
            previous_status="received", status="rejected", referral_version=3,
            reason="di luar wilayah layanan", due_at=None,
        ),
        ["agency:baznas", f"kelurahan:{KEL}"],
    ),
    (
        ReferralOverdue(
            **REFERRAL, actor="system:sla", programme="baznas-zakat-produktif",
            status="requested", due_at=WHEN, level=2, escalate_to="lurah", kelurahan_code=KEL,
        ),
        ["agency:baznas", f"kelurahan:{KEL}", "city"],
    ),
    (
        ReassessmentRequested(
            **REFERRAL, actor="system:closed-loop", kelurahan_code=KEL, referrals_completed=3
        ),
        [f"kelurahan:{KEL}"],
    ),
]  # fmt: skip


@pytest.mark.parametrize(("event", "heard_by"), EVENTS, ids=lambda v: getattr(v, "name", ""))
def test_each_event_goes_to_its_audiences_and_reads_in_both_languages(
    event: Event, heard_by: list[str]
) -> None:
    assert audiences(event, PLACE, PARTY) == heard_by
    for language in LANGUAGES:
        notice = render(event, place=PLACE, party=PARTY, language=language)
        assert notice.title and notice.body
        assert notice.email_subject == f"[Sinergi] {notice.title}"
        assert notice.email_body.startswith(notice.body)
        assert "{{" not in notice.body + notice.title


def test_times_read_in_bontang_time_and_statuses_in_words() -> None:
    overdue = EVENTS[8][0]
    notice = render(overdue, place=PLACE, party=PARTY)
    assert "29-11-2026 09:00 WITA" in notice.body  # 01:00 UTC
    assert "dieskalasi ke lurah" in notice.body
    english = render(overdue, place=PLACE, party=PARTY, language="en")
    assert "escalated to the lurah" in english.body


def test_the_referrer_is_not_told_of_its_own_action_nor_a_rule_of_what_it_did() -> None:
    change = EVENTS[7][0]
    assert isinstance(change, ReferralStatusChanged)
    by_referrer = change.model_copy(update={"actor": f"kelurahan:{KEL}"})
    assert audiences(by_referrer, PLACE, PARTY) == ["agency:baznas"]
    by_rules = Party("baznas", "system:rules", KEL, "baznas-zakat-produktif")
    assert audiences(change, PLACE, by_rules) == ["agency:baznas"]


def test_a_household_never_seen_registered_is_heard_by_nobody_in_the_kelurahan() -> None:
    assert audiences(HouseholdSubmitted(household_id=HH), None, None) == []
