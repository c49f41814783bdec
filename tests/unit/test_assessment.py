"""Poverty rulesets as data: the shipped files, the scoring rules, and re-scoring on change."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from services.registry.assessment import (
    AnswerError,
    Ruleset,
    RulesetFileError,
    Threshold,
    latest,
    load_rulesets,
    rescore,
    score,
    shipped_rulesets,
    status_changes,
)

KEPMENSOS = "kepmensos-262-2022.v1"
BONTANG_13 = "bontang-2024-13.v1"
EMPAT_UTAMA = "bontang-4-utama.v1"


@pytest.fixture(scope="module")
def rulesets() -> dict[str, Ruleset]:
    return load_rulesets()


def answers_meeting(ruleset: Ruleset, count: int, *, screening: bool = False) -> dict[str, bool]:
    """All questions answered: the first `count` criteria met, screening as given."""
    answers = {rule.criterion.id: screening for rule in ruleset.screening}
    answers.update({c.id: index < count for index, c in enumerate(ruleset.criteria)})
    return answers


def answer_error(ruleset: Ruleset, answers: dict[str, object]) -> AnswerError:
    with pytest.raises(AnswerError) as caught:
        score(ruleset, answers)
    return caught.value


# --- the shipped files --------------------------------------------------------------------------


def test_every_shipped_ruleset_file_loads(rulesets: dict[str, Ruleset]) -> None:
    assert set(rulesets) == {KEPMENSOS, BONTANG_13, EMPAT_UTAMA}
    assert shipped_rulesets() == rulesets
    for key, ruleset in rulesets.items():
        assert ruleset.key == key
        assert ruleset.editable_by == "DSPM"
        assert ruleset.notes


def test_kepmensos_has_one_screening_rule_and_the_eight_criteria(
    rulesets: dict[str, Ruleset],
) -> None:
    kepmensos = rulesets[KEPMENSOS]

    assert [s.criterion.id for s in kepmensos.screening] == ["tidak_mempunyai_tempat_tinggal"]
    assert kepmensos.screening[0].status == "miskin_ekstrem"
    assert kepmensos.screening[0].label == "fakir miskin"
    assert len(kepmensos.criteria) == 8
    assert not any(c.placeholder for c in kepmensos.questions)


def test_the_city_decree_has_thirteen_placeholder_indicators_and_six_means_poor(
    rulesets: dict[str, Ruleset],
) -> None:
    bontang = rulesets[BONTANG_13]

    assert len(bontang.criteria) == 13
    assert all(c.placeholder for c in bontang.criteria)
    decreed = [t for t in bontang.thresholds if not t.assumption]
    assert decreed == [Threshold(at_least=6, status="miskin", assumption=False)]


def test_the_four_main_indicators_are_placeholders(rulesets: dict[str, Ruleset]) -> None:
    empat = rulesets[EMPAT_UTAMA]

    assert len(empat.criteria) == 4
    assert all(c.placeholder for c in empat.criteria)


def test_latest_picks_the_highest_version(rulesets: dict[str, Ruleset]) -> None:
    v2 = replace(rulesets[BONTANG_13], version=2)

    assert latest({**rulesets, v2.key: v2}, "bontang-2024-13") is v2


# --- scoring ------------------------------------------------------------------------------------


def test_no_shelter_alone_makes_a_household_fakir_miskin(rulesets: dict[str, Ruleset]) -> None:
    kepmensos = rulesets[KEPMENSOS]

    result = score(kepmensos, answers_meeting(kepmensos, 0, screening=True))

    assert result.status == "miskin_ekstrem"
    assert result.screening_fired == "tidak_mempunyai_tempat_tinggal"
    assert result.met == ()
    assert result.answered == 9
    assert result.ruleset_key == KEPMENSOS


def test_without_the_screening_the_count_decides(rulesets: dict[str, Ruleset]) -> None:
    kepmensos = rulesets[KEPMENSOS]

    result = score(kepmensos, answers_meeting(kepmensos, 0))

    assert result.status == "tidak_miskin"
    assert result.screening_fired is None


def test_met_criteria_are_listed_in_ruleset_order(rulesets: dict[str, Ruleset]) -> None:
    kepmensos = rulesets[KEPMENSOS]
    answers = answers_meeting(kepmensos, 0)
    answers["listrik_450va_atau_tidak_ada"] = True
    answers["kepala_rumah_tangga_tidak_bekerja"] = True

    result = score(kepmensos, dict(reversed(answers.items())))

    assert result.met == ("kepala_rumah_tangga_tidak_bekerja", "listrik_450va_atau_tidak_ada")


BOUNDARIES = [
    (key, threshold.at_least, threshold.status)
    for key in (KEPMENSOS, BONTANG_13, EMPAT_UTAMA)
    for threshold in load_rulesets()[key].thresholds
    if threshold.at_least > 0
]


@pytest.mark.parametrize(("key", "at_least", "status"), BOUNDARIES)
def test_a_threshold_is_reached_at_n_criteria_and_not_at_n_minus_one(
    rulesets: dict[str, Ruleset], key: str, at_least: int, status: str
) -> None:
    ruleset = rulesets[key]

    assert score(ruleset, answers_meeting(ruleset, at_least)).status == status
    assert score(ruleset, answers_meeting(ruleset, at_least - 1)).status != status


def test_six_of_the_city_indicators_is_miskin_and_five_is_not(
    rulesets: dict[str, Ruleset],
) -> None:
    bontang = rulesets[BONTANG_13]

    assert score(bontang, answers_meeting(bontang, 6)).status == "miskin"
    assert score(bontang, answers_meeting(bontang, 5)).status == "rentan"


# --- bad answers --------------------------------------------------------------------------------


def test_a_missing_answer_names_the_question(rulesets: dict[str, Ruleset]) -> None:
    kepmensos = rulesets[KEPMENSOS]
    answers: dict[str, object] = dict(answers_meeting(kepmensos, 3))
    del answers["tidak_ada_jamban_sendiri"]

    error = answer_error(kepmensos, answers)

    assert error.field == "answers.tidak_ada_jamban_sendiri"
    assert error.rule == "missing"
    assert str(error) == f"{error.pesan} ({error.message})"
    assert "belum dijawab" in error.pesan


def test_an_unanswered_screening_question_is_missing_too(rulesets: dict[str, Ruleset]) -> None:
    kepmensos = rulesets[KEPMENSOS]
    answers: dict[str, object] = dict(answers_meeting(kepmensos, 8))
    del answers["tidak_mempunyai_tempat_tinggal"]

    error = answer_error(kepmensos, answers)

    assert (error.field, error.rule) == ("answers.tidak_mempunyai_tempat_tinggal", "missing")


def test_an_unknown_question_id_is_rejected(rulesets: dict[str, Ruleset]) -> None:
    kepmensos = rulesets[KEPMENSOS]
    answers: dict[str, object] = {**answers_meeting(kepmensos, 1), "punya_mobil": False}

    error = answer_error(kepmensos, answers)

    assert (error.field, error.rule) == ("answers.punya_mobil", "unknown")
    assert KEPMENSOS in error.pesan


@pytest.mark.parametrize("value", ["ya", 1, 0, None, "true"])
def test_an_answer_that_is_not_a_boolean_is_rejected(
    rulesets: dict[str, Ruleset], value: object
) -> None:
    empat = rulesets[EMPAT_UTAMA]
    answers: dict[str, object] = {**answers_meeting(empat, 0), "rumah_tidak_layak_huni": value}

    error = answer_error(empat, answers)

    assert (error.field, error.rule) == ("answers.rumah_tidak_layak_huni", "boolean")


# --- re-scoring ---------------------------------------------------------------------------------


def test_rescoring_returns_nothing_when_the_status_stays(rulesets: dict[str, Ruleset]) -> None:
    bontang = rulesets[BONTANG_13]
    answers = answers_meeting(bontang, 7)
    previous = score(bontang, answers)

    assert rescore(previous, replace(bontang, version=2), answers) is None


def test_a_stricter_threshold_changes_exactly_the_affected_households(
    rulesets: dict[str, Ruleset],
) -> None:
    old = rulesets[BONTANG_13]
    # Version 2 asks for 7 indicators instead of 6: only households with exactly 6 move.
    new = replace(
        old,
        version=2,
        thresholds=tuple(
            replace(t, at_least=7) if t.status == "miskin" else t for t in old.thresholds
        ),
    )
    households = [(f"hh-{met}", answers_meeting(old, met)) for met in range(14)]

    change = status_changes(old, new, households)

    assert [c.assessment_id for c in change.changed] == ["hh-6"]
    moved = change.changed[0]
    assert (moved.previous.status, moved.current.status) == ("miskin", "rentan")
    assert moved.current.ruleset_key == "bontang-2024-13.v2"
    assert change.unchanged == 13
    assert change.needs_reassessment == ()


def test_a_new_question_sends_stored_answers_to_reassessment(
    rulesets: dict[str, Ruleset],
) -> None:
    old = rulesets[EMPAT_UTAMA]
    extra = replace(old.criteria[0], id="anak_tidak_sekolah")
    new = replace(old, version=2, criteria=(*old.criteria, extra))

    change = status_changes(old, new, [("hh-1", answers_meeting(old, 2))])

    assert change.changed == ()
    assert [n.assessment_id for n in change.needs_reassessment] == ["hh-1"]
    assert change.needs_reassessment[0].error.field == "answers.anak_tidak_sekolah"


def test_versions_of_different_rulesets_cannot_be_compared(
    rulesets: dict[str, Ruleset],
) -> None:
    with pytest.raises(ValueError, match="bukan versi dari aturan yang sama"):
        status_changes(rulesets[KEPMENSOS], rulesets[BONTANG_13], [])


# --- broken files -------------------------------------------------------------------------------

VALID = """\
id: uji
version: 1
name: Uji
name_en: Test
source: tidak ada
editable_by: DSPM
notes: untuk pengujian
criteria:
  - {id: satu, pertanyaan: "Satu?", question_en: "One?", placeholder: true}
  - {id: dua, pertanyaan: "Dua?", question_en: "Two?", placeholder: true}
thresholds:
  - {at_least: 2, status: miskin, assumption: true}
  - {at_least: 0, status: tidak_miskin, assumption: true}
"""


def load_error(tmp_path: Path, text: str, name: str = "uji.v1.yaml") -> RulesetFileError:
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(RulesetFileError) as caught:
        load_rulesets(tmp_path)
    return caught.value


def test_a_valid_file_in_another_folder_loads(tmp_path: Path) -> None:
    (tmp_path / "uji.v1.yaml").write_text(VALID, encoding="utf-8")

    assert list(load_rulesets(tmp_path)) == ["uji.v1"]


def test_malformed_yaml_is_reported_with_the_file_name(tmp_path: Path) -> None:
    error = load_error(tmp_path, VALID + "criteria: [unclosed\n")

    assert error.path == tmp_path / "uji.v1.yaml"
    assert "uji.v1.yaml" in str(error)


def test_a_misspelt_key_is_reported_with_the_file_and_the_key(tmp_path: Path) -> None:
    error = load_error(tmp_path, VALID.replace("thresholds:", "treshold:"))

    assert "uji.v1.yaml" in str(error)
    assert "treshold" in error.problem
    assert "thresholds" in error.problem


def test_a_criterion_without_placeholder_is_rejected(tmp_path: Path) -> None:
    error = load_error(tmp_path, VALID.replace(", placeholder: true}", "}", 1))

    assert "criteria.0.placeholder" in error.problem


def test_thresholds_out_of_order_are_rejected(tmp_path: Path) -> None:
    swapped = VALID.replace("at_least: 2, status: miskin", "at_least: 2, status: tidak_miskin")
    swapped = swapped.replace("at_least: 0, status: tidak_miskin", "at_least: 0, status: miskin")

    error = load_error(tmp_path, swapped)

    assert "milder" in error.problem


def test_a_file_name_that_disagrees_with_its_version_is_rejected(tmp_path: Path) -> None:
    error = load_error(tmp_path, VALID, name="uji.v2.yaml")

    assert "uji.v1.yaml" in error.problem


def test_a_threshold_above_the_number_of_criteria_is_rejected(tmp_path: Path) -> None:
    error = load_error(tmp_path, VALID.replace("at_least: 2", "at_least: 3"))

    assert "exceeds" in error.problem


def test_an_empty_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RulesetFileError, match=r"no \*\.yaml files"):
        load_rulesets(tmp_path)
