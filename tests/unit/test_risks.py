"""BKKBN family stunting-risk flags: water, latrine and the "4 terlalu"."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4

from services.registry.domain import Member
from services.registry.risks import stunting_risks

HOUSEHOLD = uuid4()


def person(relation: str, born: date, sex: str = "P") -> Member:
    return Member(
        id=uuid4(),
        household_id=HOUSEHOLD,
        nik=None,
        name="x",
        sex=sex,  # type: ignore[arg-type]
        birth_date=born,
        relation=relation,  # type: ignore[arg-type]
        occupation=None,
        working=False,
        disability=False,
        pregnant=False,
        nik_warnings=(),
        added_at=datetime.now(UTC),
    )


def test_no_safe_water_and_no_latrine_come_from_the_assessment_answers() -> None:
    answers = {"air_minum_tidak_layak": True, "tidak_ada_jamban_sendiri": True}
    assert stunting_risks([], answers) == ["tidak_ada_air_minum_layak", "tidak_ada_jamban_layak"]
    assert stunting_risks([], {"air_minum_tidak_layak": False}) == []


def test_a_mother_under_twenty_at_a_birth_is_too_young() -> None:
    family = [person("istri", date(2008, 3, 1)), person("anak", date(2026, 1, 5))]
    assert stunting_risks(family, {}) == ["terlalu_muda"]


def test_a_mother_over_thirty_five_at_a_birth_is_too_old() -> None:
    family = [person("kepala", date(1985, 3, 1)), person("anak", date(2025, 6, 1))]
    assert stunting_risks(family, {}) == ["terlalu_tua"]


def test_births_less_than_two_years_apart_are_too_close_and_four_children_too_many() -> None:
    mother = person("istri", date(1995, 1, 1))
    children = [
        person("anak", born)
        for born in (date(2018, 1, 1), date(2020, 6, 1), date(2022, 3, 1), date(2023, 12, 1))
    ]
    assert stunting_risks([mother, *children], {}) == ["terlalu_dekat", "terlalu_banyak"]


def test_a_father_alone_gives_no_maternal_flags() -> None:
    family = [person("kepala", date(1970, 1, 1), sex="L"), person("anak", date(2025, 1, 1))]
    assert stunting_risks(family, {}) == []
