"""The spreadsheets RTs keep (XLSX or CSV, one row per member), read as registry commands.

A row becomes the registry's own request bodies, `RegisterHousehold` and `AddMember`, so it
passes the very rules the HTTP API applies; the NIK rules follow later in `domain.add_member`.
What cannot become a command is a `Problem` naming the column and the reason. Nothing here
touches the database, and rows are streamed: a 180,000-row file is never held in memory.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final, get_args

from pydantic import ValidationError

from services.registry import areas
from services.registry.domain import Household, Relation
from services.registry.schemas import AddMember, RegisterHousehold
from sinergi.errors import bilingual, field_problem

HOUSEHOLD_COLUMNS: Final = ("no_kk", "kelurahan", "rw", "rt", "alamat", "nama_kepala")
MEMBER_COLUMNS: Final = (
    "nik",
    "nama",
    "jenis_kelamin",
    "tanggal_lahir",
    "hubungan",
    "pekerjaan",
    "bekerja",
    "disabilitas",
    "hamil",
    "tegaskan",  # the RT insists on a NIK that disagrees with sex/birth date (API: insist)
)
COLUMNS: Final = HOUSEHOLD_COLUMNS + MEMBER_COLUMNS
OPTIONAL: Final = frozenset({"nik", "pekerjaan", "bekerja", "disabilitas", "hamil", "tegaskan"})

# The API's field names as the spreadsheet calls them, so every problem names a real column.
FIELD_COLUMNS: Final = {
    "no_kk": "no_kk",
    "kelurahan_code": "kelurahan",
    "rw": "rw",
    "rt": "rt",
    "address": "alamat",
    "head_name": "nama_kepala",
    "nik": "nik",
    "name": "nama",
    "sex": "jenis_kelamin",
    "birth_date": "tanggal_lahir",
    "relation": "hubungan",
    "occupation": "pekerjaan",
    "working": "bekerja",
    "disability": "disabilitas",
    "pregnant": "hamil",
    "insist": "tegaskan",
}

_YES: Final = frozenset({"ya", "y", "1", "true", "yes", "benar"})
_NO: Final = frozenset({"", "tidak", "t", "tdk", "0", "false", "no", "salah"})
_SEX: Final = {
    "l": "L",
    "lk": "L",
    "laki": "L",
    "laki_laki": "L",
    "pria": "L",
    "p": "P",
    "pr": "P",
    "perempuan": "P",
    "wanita": "P",
}
_RELATIONS: Final = frozenset(get_args(Relation))
_RELATION_ALIASES: Final = {"kepala_keluarga": "kepala", "isteri": "istri", "orangtua": "orang_tua"}
_ISO_DATE: Final = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00)?)?")
_DMY_DATE: Final = re.compile(r"(\d{1,2})([/-])(\d{1,2})\2(\d{4})")
_EXCEL_EPOCH: Final = date(1899, 12, 30)


@dataclass(frozen=True, slots=True)
class Problem:
    column: str
    rule: str
    pesan: str
    message: str


@dataclass(frozen=True, slots=True)
class HouseholdData:
    """The household columns of one row, validated as `RegisterHousehold`."""

    no_kk: str
    kelurahan_code: str
    rw: int
    rt: int
    address: str
    head_name: str

    @classmethod
    def of(cls, household: Household) -> HouseholdData:
        h = household
        return cls(h.no_kk, h.kelurahan_code, h.rw, h.rt, h.address, h.head_name)

    def differs_from(self, other: HouseholdData) -> str | None:
        """The first column that differs; case and spacing of texts do not count."""
        pairs = (
            ("kelurahan", self.kelurahan_code, other.kelurahan_code),
            ("rw", self.rw, other.rw),
            ("rt", self.rt, other.rt),
            ("alamat", _fold(self.address), _fold(other.address)),
            ("nama_kepala", _fold(self.head_name), _fold(other.head_name)),
        )
        return next((column for column, mine, theirs in pairs if mine != theirs), None)


@dataclass(frozen=True, slots=True)
class MemberRow:
    number: int  # as the spreadsheet shows it: the header is row 1
    household: HouseholdData
    member: AddMember


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def header_name(value: object) -> str:
    """'No. KK' → 'no_kk', 'Tanggal Lahir' → 'tanggal_lahir'."""
    return re.sub(r"[^a-z0-9]+", "_", str(value or "").strip().lower()).strip("_")


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        # A number cell: Excel holds NIK and No. KK typed without a leading ' as numbers.
        value = int(value)
    elif isinstance(value, datetime):
        value = value.date()
    text = str(value).strip()
    return text or None


def parse_yes_no(value: object) -> bool | None:
    """True/False, or None when the cell is not a yes/no answer; an empty cell is "tidak"."""
    if isinstance(value, bool):
        return value
    folded = (_text(value) or "").lower()
    if folded in _YES:
        return True
    return False if folded in _NO else None


def parse_sex(value: object) -> str | None:
    return _SEX.get(header_name(value))


def parse_relation(value: object) -> str | None:
    """The `Relation` value, or the text as written so that the schema names the choices."""
    name = header_name(value)
    name = _RELATION_ALIASES.get(name, name)
    return name if name in _RELATIONS else _text(value)


def parse_date(value: object) -> date | None:
    """A date cell, an Excel serial number, YYYY-MM-DD, DD/MM/YYYY or DD-MM-YYYY."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        # A date cell that lost its date format shows the serial day count Excel stores.
        return _EXCEL_EPOCH + timedelta(days=int(value)) if 0 < value < 2_958_466 else None
    text = _text(value) or ""
    if found := _ISO_DATE.fullmatch(text):
        year, month, day = found.group(1, 2, 3)
    elif found := _DMY_DATE.fullmatch(text):
        day, month, year = found.group(1, 3, 4)
    else:
        return None
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


class KelurahanNames:
    """Kelurahan by Kemendagri code (with or without dots) or by name, ignoring case/spacing."""

    def __init__(self) -> None:
        self._codes: dict[str, str] = {}
        for area in areas.areas().values():
            if area.level == "kelurahan":
                for key in (area.code, area.code.replace(".", ""), area.name):
                    self._codes[self._key(key)] = area.code

    @staticmethod
    def _key(value: str) -> str:
        return re.sub(r"[\s._-]+", "", value).casefold()

    def code(self, value: object) -> str | None:
        """The code, or the text as written so that the schema's rule rejects it."""
        text = _text(value)
        return None if text is None else self._codes.get(self._key(text), text)


def _problem_from(error: Any) -> Problem:
    """A pydantic error as a Problem, worded by the API's own translations."""
    field = str(error["loc"][0]) if error.get("loc") else "baris"
    column = FIELD_COLUMNS.get(field, field)
    answer = field_problem({**error, "loc": (column,)})
    pesan = answer.pesan.removeprefix(f"{column}: ")
    message = answer.message.removeprefix(f"{column}: ")
    if answer.rule == "value_error":  # our validators speak "Indonesian (English)"
        both = bilingual(pesan)
        pesan, message = both.pesan, both.message
    return Problem(column, answer.rule, pesan, message)


class RowParser:
    """Turns one row's cells (in `COLUMNS` order) into a `MemberRow` or its problems."""

    def __init__(self) -> None:
        self._kelurahan = KelurahanNames()
        # Every member row repeats its household: validate each distinct household once.
        self._households: dict[tuple[object, ...], HouseholdData | list[Problem]] = {}

    def parse(self, number: int, cells: Sequence[object]) -> MemberRow | list[Problem]:
        household = self._household(cells[:6])
        problems: list[Problem] = [] if isinstance(household, HouseholdData) else list(household)
        member = self._member(cells[6:], problems)
        if problems or member is None or not isinstance(household, HouseholdData):
            return problems
        return MemberRow(number, household, member)

    def _household(self, cells: Sequence[object]) -> HouseholdData | list[Problem]:
        key = tuple(cells)
        known = self._households.get(key)
        if known is not None:
            return known
        no_kk, kelurahan, rw, rt, address, head = cells
        values = {
            "no_kk": _text(no_kk),
            "kelurahan_code": self._kelurahan.code(kelurahan),
            "rw": _text(rw),
            "rt": _text(rt),
            "address": _text(address),
            "head_name": _text(head),
        }
        result: HouseholdData | list[Problem]
        try:
            valid = RegisterHousehold.model_validate(
                {k: v for k, v in values.items() if v is not None}
            )
            result = HouseholdData(**valid.model_dump())
        except ValidationError as invalid:
            result = [_problem_from(e) for e in invalid.errors()]
        if len(self._households) > 10_000:  # bounded: rows of one household come together
            self._households.clear()
        self._households[key] = result
        return result

    def _member(self, cells: Sequence[object], problems: list[Problem]) -> AddMember | None:
        nik, name, sex, birth, relation, occupation, working, disability, pregnant, insist = cells
        values: dict[str, object] = {
            "nik": _text(nik),
            "name": _text(name),
            "relation": parse_relation(relation),
            "occupation": _text(occupation),
        }
        found = len(problems)
        if sex_value := parse_sex(sex):
            values["sex"] = sex_value
        elif _text(sex) is not None:
            problems.append(
                Problem(
                    "jenis_kelamin",
                    "sex",
                    "harus L (laki-laki) atau P (perempuan)",
                    "must be L (male) or P (female)",
                )
            )
        if (birth_date := parse_date(birth)) is not None:
            values["birth_date"] = birth_date
        elif _text(birth) is not None:
            problems.append(
                Problem(
                    "tanggal_lahir",
                    "date_format",
                    "harus tanggal yang ada: YYYY-MM-DD, DD/MM/YYYY atau DD-MM-YYYY",
                    "must be a real date: YYYY-MM-DD, DD/MM/YYYY or DD-MM-YYYY",
                )
            )
        for column, field, cell in (
            ("bekerja", "working", working),
            ("disabilitas", "disability", disability),
            ("hamil", "pregnant", pregnant),
            ("tegaskan", "insist", insist),
        ):
            answer = parse_yes_no(cell)
            if answer is None:
                problems.append(
                    Problem(
                        column,
                        "yes_no",
                        "harus ya atau tidak (y/t, 1/0, kosong = tidak)",
                        "must be yes or no (ya/tidak, y/t, 1/0, empty = no)",
                    )
                )
            else:
                values[field] = answer
        complained = {p.column for p in problems[found:]}
        try:
            member = AddMember.model_validate({k: v for k, v in values.items() if v is not None})
        except ValidationError as invalid:
            for error in invalid.errors():
                problem = _problem_from(error)
                if problem.column not in complained:  # "missing" after our own complaint
                    problems.append(problem)
            return None
        return member if len(problems) == found else None
