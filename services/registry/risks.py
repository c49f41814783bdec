"""BKKBN's "keluarga berisiko stunting" flags, from what the registry already holds.

No I/O. Water and latrine come from the household's latest assessment answers (the city's and
Kepmensos' rulesets ask both); the "4 terlalu" come from the mothers' and children's birth dates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from itertools import pairwise
from typing import Final

from services.registry.domain import Member

# Assessment questions whose "yes" is a BKKBN risk, whichever ruleset asked them.
ANSWER_RISKS: Final = {
    "air_minum_tidak_layak": "tidak_ada_air_minum_layak",
    "tidak_ada_jamban_sendiri": "tidak_ada_jamban_layak",
}
MOTHER_TOO_YOUNG: Final = 20  # years at a birth
MOTHER_TOO_OLD: Final = 35
BIRTHS_TOO_CLOSE_MONTHS: Final = 24
TOO_MANY_CHILDREN: Final = 3


def _years(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _months(first: date, then: date) -> int:
    return (then.year - first.year) * 12 + then.month - first.month - (then.day < first.day)


def stunting_risks(members: Sequence[Member], answers: Mapping[str, bool]) -> list[str]:
    """The flags that apply, in a fixed order (empty when none does)."""
    flags = [flag for question, flag in ANSWER_RISKS.items() if answers.get(question) is True]
    mothers = [m for m in members if m.sex == "P" and m.relation in ("kepala", "istri")]
    children = sorted(m.birth_date for m in members if m.relation == "anak")
    if mothers and children:
        mother = min(mothers, key=lambda m: m.birth_date).birth_date
        ages = [_years(mother, child) for child in children]
        if min(ages) < MOTHER_TOO_YOUNG:
            flags.append("terlalu_muda")
        if max(ages) > MOTHER_TOO_OLD:
            flags.append("terlalu_tua")
        gaps = [_months(a, b) for a, b in pairwise(children)]
        if any(gap < BIRTHS_TOO_CLOSE_MONTHS for gap in gaps):
            flags.append("terlalu_dekat")
        if len(children) > TOO_MANY_CHILDREN:
            flags.append("terlalu_banyak")
    return flags
