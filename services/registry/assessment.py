"""Poverty assessment: rulesets kept as versioned YAML data, and a pure scoring engine.

A ruleset lists yes/no questions the Ketua RT answers. Screening questions decide a status on
their own (Kepmensos 262/HUK/2022: no place to live means fakir miskin); the other criteria are
counted, and the first threshold the count reaches gives the status. Every assessment keeps the
ruleset key ("id.vN"), so a published version must never change: DSPM edits by adding a new
version file, and `status_changes` tells the registry which stored assessments it moves.

Only `load_rulesets` touches the disk; scoring is pure, so re-scoring thousands of households
after a ruleset change costs no I/O.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Generic, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError

Status = Literal["miskin_ekstrem", "miskin", "rentan", "tidak_miskin"]
AnswerRule = Literal["missing", "unknown", "boolean"]

# Mildest first: a larger index is a worse status.
SEVERITY: Final[tuple[Status, ...]] = ("tidak_miskin", "rentan", "miskin", "miskin_ekstrem")
RULESETS_FOLDER: Final = Path(__file__).parent / "rulesets"

_ID = r"^[a-z][a-z0-9_]*$"
_RULESET_ID = r"^[a-z0-9]+(-[a-z0-9]+)*$"
_FILE_NAME = re.compile(r"^(?P<id>.+)\.v(?P<version>\d+)\.yaml$")


# --- the engine's view of a ruleset -------------------------------------------------------------


@dataclass(frozen=True)
class Criterion:
    id: str
    pertanyaan: str
    question_en: str
    # True where the city's official text is not published and DSPM must replace ours.
    placeholder: bool


@dataclass(frozen=True)
class Screening:
    """A question whose "yes" alone decides the status (e.g. no shelter: fakir miskin)."""

    criterion: Criterion
    status: Status
    label: str  # the legal term, e.g. "fakir miskin"


@dataclass(frozen=True)
class Threshold:
    at_least: int
    status: Status
    # True where the number is Sinergi's assumption, not the legal text: DSPM must confirm it.
    assumption: bool


@dataclass(frozen=True)
class Ruleset:
    id: str
    version: int
    name: str
    name_en: str
    source: str
    editable_by: str
    notes: str
    criteria: tuple[Criterion, ...]
    screening: tuple[Screening, ...]
    thresholds: tuple[Threshold, ...]  # highest at_least first, the last one at 0

    @property
    def key(self) -> str:
        return f"{self.id}.v{self.version}"

    @property
    def questions(self) -> tuple[Criterion, ...]:
        """Everything the RT answers, screening first (the order a form shows them)."""
        return tuple(rule.criterion for rule in self.screening) + self.criteria


@dataclass(frozen=True)
class Score:
    ruleset_key: str
    met: tuple[str, ...]  # criterion ids in ruleset order; screening questions are not counted
    screening_fired: str | None
    status: Status
    answered: int  # questions answered, screening included


class AnswerError(ValueError):
    """One bad answer, in Indonesian (`pesan`) and English (`message`); `field` is its path."""

    def __init__(self, *, field: str, rule: AnswerRule, pesan: str, message: str) -> None:
        super().__init__(f"{pesan} ({message})")
        self.field = field
        self.rule: AnswerRule = rule
        self.pesan = pesan
        self.message = message


class RulesetFileError(ValueError):
    """A ruleset file that cannot be used; the message names the file and the problem."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"berkas aturan {path} tidak valid (invalid ruleset file): {problem}")
        self.path = path
        self.problem = problem


# --- scoring ------------------------------------------------------------------------------------


def score(ruleset: Ruleset, answers: Mapping[str, object]) -> Score:
    """Score one household. Every question must be answered with a real bool."""
    _check_answers(ruleset, answers)
    met = tuple(c.id for c in ruleset.criteria if answers[c.id] is True)
    status = next(t.status for t in ruleset.thresholds if len(met) >= t.at_least)
    fired = [rule for rule in ruleset.screening if answers[rule.criterion.id] is True]
    screening_fired = None
    if fired:
        # A screening rule suffices but never softens: the worse of it and the count wins.
        worst = max(fired, key=lambda rule: _rank(rule.status))
        screening_fired = worst.criterion.id
        status = max(status, worst.status, key=_rank)
    return Score(ruleset.key, met, screening_fired, status, len(answers))


def rescore(previous: Score, ruleset: Ruleset, answers: Mapping[str, object]) -> Score | None:
    """The new score, or None when the status stays (only status changes become events)."""
    current = score(ruleset, answers)
    return None if current.status == previous.status else current


def _rank(status: Status) -> int:
    return SEVERITY.index(status)


def _check_answers(ruleset: Ruleset, answers: Mapping[str, object]) -> None:
    known = {q.id for q in ruleset.questions}
    for field in answers:
        if field not in known:
            raise AnswerError(
                field=f"answers.{field}",
                rule="unknown",
                pesan=f"pertanyaan {field} tidak ada dalam aturan {ruleset.key}",
                message=f"{field} is not a question of ruleset {ruleset.key}",
            )
    for question in ruleset.questions:
        if question.id not in answers:
            raise AnswerError(
                field=f"answers.{question.id}",
                rule="missing",
                pesan=f"pertanyaan {question.id} belum dijawab: {question.pertanyaan}",
                message=f"{question.id} is not answered: {question.question_en}",
            )
        # Only real booleans: "ya", 1 or None would hide a form or import bug as a guess.
        if not isinstance(answers[question.id], bool):
            raise AnswerError(
                field=f"answers.{question.id}",
                rule="boolean",
                pesan=f"jawaban {question.id} harus ya/tidak (true/false)",
                message=f"the answer to {question.id} must be true or false",
            )


# --- re-scoring after a ruleset change ----------------------------------------------------------

AssessmentId = TypeVar("AssessmentId")


@dataclass(frozen=True)
class StatusChange(Generic[AssessmentId]):
    assessment_id: AssessmentId
    previous: Score
    current: Score


@dataclass(frozen=True)
class NeedsReassessment(Generic[AssessmentId]):
    """Stored answers that the new version cannot score (e.g. it added a question)."""

    assessment_id: AssessmentId
    error: AnswerError


@dataclass(frozen=True)
class RulesetChange(Generic[AssessmentId]):
    old_key: str
    new_key: str
    changed: tuple[StatusChange[AssessmentId], ...]
    needs_reassessment: tuple[NeedsReassessment[AssessmentId], ...]
    unchanged: int


def status_changes(
    old: Ruleset,
    new: Ruleset,
    assessments: Iterable[tuple[AssessmentId, Mapping[str, object]]],
) -> RulesetChange[AssessmentId]:
    """Which stored assessments change status when `old` is replaced by `new`.

    The old status is recomputed from the answers rather than read from storage, so the result
    depends only on the two rulesets and the answers: running it twice gives the same events.
    """
    if old.id != new.id:
        raise ValueError(
            f"{old.key} dan {new.key} bukan versi dari aturan yang sama "
            f"({old.key} and {new.key} are not versions of one ruleset)"
        )
    changed: list[StatusChange[AssessmentId]] = []
    broken: list[NeedsReassessment[AssessmentId]] = []
    unchanged = 0
    for assessment_id, answers in assessments:
        try:
            previous = score(old, answers)
            current = rescore(previous, new, answers)
        except AnswerError as error:
            broken.append(NeedsReassessment(assessment_id, error))
            continue
        if current is None:
            unchanged += 1
        else:
            changed.append(StatusChange(assessment_id, previous, current))
    return RulesetChange(old.key, new.key, tuple(changed), tuple(broken), unchanged)


# --- loading the YAML files ---------------------------------------------------------------------


class _Strict(BaseModel):
    # extra="forbid": a misspelt key (e.g. "treshold") must fail, not silently vanish.
    model_config = ConfigDict(extra="forbid", frozen=True)


class _CriterionFile(_Strict):
    id: str = Field(pattern=_ID)
    pertanyaan: str = Field(min_length=1)
    question_en: str = Field(min_length=1)
    placeholder: StrictBool


class _ScreeningFile(_CriterionFile):
    status: Status
    label: str = Field(min_length=1)


class _ThresholdFile(_Strict):
    at_least: StrictInt = Field(ge=0)
    status: Status
    assumption: StrictBool


class _RulesetFile(_Strict):
    id: str = Field(pattern=_RULESET_ID)
    version: StrictInt = Field(ge=1)
    name: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    source: str = Field(min_length=1)
    editable_by: str = Field(min_length=1)
    notes: str = Field(min_length=1)
    screening: list[_ScreeningFile] = []
    criteria: list[_CriterionFile] = Field(min_length=1)
    thresholds: list[_ThresholdFile] = Field(min_length=1)


def load_rulesets(folder: Path = RULESETS_FOLDER) -> dict[str, Ruleset]:
    """Read every `<id>.v<version>.yaml` in `folder`, keyed by "id.vN"."""
    paths = sorted(folder.glob("*.yaml"))
    if not paths:
        raise RulesetFileError(folder, "tidak ada berkas *.yaml (no *.yaml files)")
    rulesets: dict[str, Ruleset] = {}
    for path in paths:
        ruleset = _load_file(path)
        # Unreachable while file names are checked, but a silent overwrite would be costly.
        if ruleset.key in rulesets:
            raise RulesetFileError(path, f"{ruleset.key} sudah ada (defined twice)")
        rulesets[ruleset.key] = ruleset
    return rulesets


@functools.cache
def shipped_rulesets() -> Mapping[str, Ruleset]:
    """The rulesets shipped with the registry, read once per process."""
    return load_rulesets()


def latest(rulesets: Mapping[str, Ruleset], ruleset_id: str) -> Ruleset:
    """The highest version of one ruleset id."""
    versions = [r for r in rulesets.values() if r.id == ruleset_id]
    if not versions:
        raise KeyError(f"aturan {ruleset_id} tidak ada (no ruleset {ruleset_id})")
    return max(versions, key=lambda r: r.version)


def _load_file(path: Path) -> Ruleset:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise RulesetFileError(path, f"tidak bisa dibaca (unreadable): {error}") from error
    if not isinstance(raw, dict):
        raise RulesetFileError(path, "isi harus berupa pemetaan YAML (must be a YAML mapping)")
    try:
        data = _RulesetFile.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise RulesetFileError(path, problems) from error
    problem = _consistency_problem(path, data)
    if problem:
        raise RulesetFileError(path, problem)
    return _to_ruleset(data)


def _consistency_problem(path: Path, data: _RulesetFile) -> str | None:
    # The key stored with each assessment is read off the file name by people: they must agree.
    name = _FILE_NAME.match(path.name)
    if not name or (name["id"], int(name["version"])) != (data.id, data.version):
        return (
            f"nama berkas harus {data.id}.v{data.version}.yaml (file name must match id, version)"
        )
    ids = [c.id for c in data.screening] + [c.id for c in data.criteria]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        return f"id kriteria ganda (duplicate criterion ids): {', '.join(duplicates)}"
    counts = [t.at_least for t in data.thresholds]
    if counts[-1] != 0:
        return "ambang terakhir harus at_least: 0 (the last threshold must be at_least: 0)"
    if any(high <= low for high, low in itertools.pairwise(counts)):
        return "ambang harus urut menurun (thresholds must be strictly descending)"
    if counts[0] > len(data.criteria):
        return (
            f"ambang {counts[0]} melebihi {len(data.criteria)} kriteria "
            f"(threshold {counts[0]} exceeds the {len(data.criteria)} criteria)"
        )
    ranks = [_rank(t.status) for t in data.thresholds]
    # More criteria met must never mean a milder status.
    if any(high <= low for high, low in itertools.pairwise(ranks)):
        return "status ambang harus makin ringan ke bawah (statuses must get milder downwards)"
    return None


def _to_ruleset(data: _RulesetFile) -> Ruleset:
    def criterion(c: _CriterionFile) -> Criterion:
        return Criterion(c.id, c.pertanyaan.strip(), c.question_en.strip(), c.placeholder)

    return Ruleset(
        id=data.id,
        version=data.version,
        name=data.name,
        name_en=data.name_en,
        source=data.source,
        editable_by=data.editable_by,
        notes=data.notes.strip(),
        criteria=tuple(criterion(c) for c in data.criteria),
        screening=tuple(Screening(criterion(s), s.status, s.label) for s in data.screening),
        thresholds=tuple(Threshold(t.at_least, t.status, t.assumption) for t in data.thresholds),
    )
