"""Where a household stands in the 100 days, from its poverty status history: the one
classification the dashboard's figures and the lists behind them share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.referrals.hundred_days import Standing, standing

START = datetime(2026, 11, 1, 16, 0, tzinfo=UTC)  # 2 November 2026, midnight WITA
BEFORE, AFTER = START - timedelta(days=3), START + timedelta(days=3)
LATER = AFTER + timedelta(days=1)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        # extreme at day 0 and still
        ([(BEFORE, "miskin_ekstrem")], Standing(at_start=True, now=True, graduated=False)),
        # extreme at day 0, out of it since: graduated
        ([(BEFORE, "miskin_ekstrem"), (AFTER, "miskin")], Standing(True, False, True)),
        # extreme only after day 0, out of it since: graduated, not at day 0
        ([(BEFORE, "miskin"), (AFTER, "miskin_ekstrem"), (LATER, "rentan")],
         Standing(False, False, True)),
        # out of it before day 0: never counted
        ([(BEFORE, "miskin_ekstrem"), (BEFORE + timedelta(hours=1), "miskin")],
         Standing(False, False, False)),
        # first assessed after day 0, extreme: now only
        ([(AFTER, "miskin_ekstrem")], Standing(False, True, False)),
        # a status set at the very start is not "before" it
        ([(START, "miskin_ekstrem")], Standing(False, True, False)),
        # out and back in: extreme now, not graduated
        ([(BEFORE, "miskin_ekstrem"), (AFTER, "miskin"), (LATER, "miskin_ekstrem")],
         Standing(True, True, False)),
    ],
)  # fmt: skip
def test_a_household_stands_at_day_0_now_or_graduated_by_its_history(
    changes: list[tuple[datetime, str]], expected: Standing
) -> None:
    assert standing(changes, START) == expected
