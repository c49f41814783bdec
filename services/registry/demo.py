"""Synthetic Bontang households for `sinergi demo`, benchmarks and tests. Pure and deterministic.

`generate(households=n, seed=s)` always gives the same data for the same arguments (no clock:
`today` is an argument). It covers the 15 kelurahan (the four priority kelurahan a little more
populous and poorer), RW/RT numbers that fit together inside a kelurahan, 16-digit No. KK
(6474 + kecamatan + issue date + serial, unique), members whose NIK agrees with their sex and
birth date, answers to the city's 13 indicators (`CITY_RULESET`), Posyandu measurements of the
under-fives drawn around the WHO medians, and planted duplicates: a member registered again,
without NIK and with typical typos, in another household of the same kelurahan. `planted` keeps
the truth as (original member id, copy member id), so a matcher can be scored against it.

Only the writers (`write_csv`, `write_xlsx`, `write_xlsx_rows`) touch the disk (besides the
area table, read once).
"""

from __future__ import annotations

import bisect
import csv
import itertools
import math
import random
import re
import shutil
import tempfile
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Final
from xml.sax.saxutils import escape, quoteattr

from services.registry import demo_names as words
from services.registry import growth
from services.registry.assessment import Status
from services.registry.domain import Relation, Sex
from services.registry.growth import Position
from services.registry.matching import Person

CITY_RULESET: Final = "bontang-2024-13.v1"
DEFAULT_TODAY: Final = date(2026, 11, 1)
IMPORT_HEADERS: Final = (
    *("no_kk", "kelurahan", "rw", "rt", "alamat", "nama_kepala", "nik", "nama"),
    *("jenis_kelamin", "tanggal_lahir", "hubungan", "pekerjaan", "bekerja", "disabilitas"),
    "hamil",
)
# How often each of the city's indicators is among those a household meets.
CRITERIA_WEIGHTS: Final = {
    "kepala_keluarga_tanpa_penghasilan_tetap": 6.0,
    "penghasilan_tidak_cukup_kebutuhan_dasar": 9.0,
    "makan_kurang_dari_dua_kali": 2.0,
    "tidak_punya_jkn_aktif": 7.0,
    "anak_usia_sekolah_tidak_sekolah": 2.0,
    "luas_lantai_kurang_8m2_per_orang": 6.0,
    "lantai_tidak_layak": 4.0,
    "dinding_tidak_layak": 4.0,
    "atap_tidak_layak": 3.0,
    "tidak_ada_jamban_sendiri": 4.0,
    "air_minum_tidak_layak": 4.0,
    "listrik_450va_atau_tidak_ada": 7.0,
    "tidak_punya_aset_atau_tabungan": 8.0,
}
# Status: share in priority kelurahan, share elsewhere, criteria met (count: weight), matching
# the ruleset's thresholds (10, 6, 4). Overall about 6.5 % extreme, 21 % poor, 25 % vulnerable.
STATUS_MIX: Final[tuple[tuple[Status, float, float, dict[int, int]], ...]] = (
    ("miskin_ekstrem", 0.10, 0.045, {10: 4, 11: 3, 12: 2, 13: 1}),
    ("miskin", 0.27, 0.18, {6: 4, 7: 3, 8: 2, 9: 1}),
    ("rentan", 0.27, 0.245, {4: 3, 5: 2}),
    ("tidak_miskin", 1.0, 1.0, {0: 5, 1: 3, 2: 2, 3: 1}),
)
PRIORITY_WEIGHT: Final = 1.4  # households per priority kelurahan, relative to the others
# Mean length-for-age z by status (SD 1.1): about 22 % of the under-fives are stunted.
HAZ_MEAN: Final[Mapping[Status, float]] = {
    "miskin_ekstrem": -1.6,
    "miskin": -1.45,
    "rentan": -1.2,
    "tidak_miskin": -0.95,
}
_IDLE: Final = frozenset({words.NOT_WORKING, words.HOUSEWORK, words.STUDENT, words.RETIRED})
_YEAR: Final = words.YEAR


@dataclass(frozen=True, slots=True)
class DemoMember:
    id: str  # "<household key>-<nn>", stable for a seed
    nik: str | None
    name: str
    sex: Sex
    birth_date: date
    relation: Relation
    occupation: str
    working: bool
    disability: bool
    pregnant: bool


@dataclass(frozen=True, slots=True)
class DemoMeasurement:
    member_id: str
    measured_on: date
    length_height_cm: float
    position: Position
    weight_kg: float


@dataclass(frozen=True, slots=True)
class DemoHousehold:
    key: str  # "demo-000001": stable for a seed, unlike the registry's uuid
    no_kk: str
    kelurahan_code: str
    rw: int
    rt: int
    address: str
    members: tuple[DemoMember, ...]  # the head first
    answers: Mapping[str, bool]  # every question of CITY_RULESET
    measurements: tuple[DemoMeasurement, ...]

    @property
    def head(self) -> DemoMember:
        return self.members[0]


@dataclass(frozen=True)
class DemoData:
    seed: int
    today: date
    households: tuple[DemoHousehold, ...]
    planted: list[tuple[str, str]]  # (original member id, copy member id), copy has no NIK
    ruleset_key: str = CITY_RULESET

    @property
    def member_count(self) -> int:
        return sum(len(h.members) for h in self.households)

    def people(self, *, without_nik_only: bool = False) -> Iterator[Person]:
        """Members as services.registry.matching sees them, with the same stable ids.

        An original may have a NIK while its copy has none: to find such pairs a matcher must
        compare the members without NIK against everyone, which the default gives it.
        """
        for h in self.households:
            for m in h.members:
                if not (without_nik_only and m.nik):
                    yield Person(
                        m.id, h.key, m.name, m.birth_date, m.sex, h.kelurahan_code, h.rw, h.rt,
                        h.address,
                    )  # fmt: skip

    def planted_pairs(self) -> frozenset[tuple[str, str]]:
        """The planted pairs ordered as matching.Candidate's (left, right)."""
        return frozenset((min(a, b), max(a, b)) for a, b in self.planted)


@dataclass(slots=True)
class _Draft:
    """A household while it is built, frozen into a DemoHousehold at the end."""

    key: str
    kel: words.Kelurahan
    flavour: str
    family_name: str | None  # Christian families carry one
    upper: bool  # the RT types names in capitals, as the KK prints them
    poor: bool
    truant: bool  # a school-age child is out of school (an answer) and is still to be picked
    answers: dict[str, bool]
    members: list[DemoMember]
    names: list[str]  # the members' names before capitals
    rw: int = 0
    rt: int = 0
    address: str = ""
    no_kk: str = ""

    def freeze(self, measurements: list[DemoMeasurement]) -> DemoHousehold:
        return DemoHousehold(
            self.key, self.no_kk, self.kel.code, self.rw, self.rt, self.address,
            tuple(self.members), self.answers, tuple(measurements),
        )  # fmt: skip


def generate(
    *, households: int, seed: int = 2026, duplicate_rate: float = 0.02, today: date = DEFAULT_TODAY
) -> DemoData:
    """`households` synthetic households; the same arguments always give the same data."""
    if households < 0 or not 0 <= duplicate_rate <= 1:
        raise ValueError("households must be >= 0 and duplicate_rate within 0..1")
    builder = _Builder(random.Random(seed), today)
    drafts = [builder.household(f"demo-{n + 1:06d}") for n in range(households)]
    planted = builder.plant(drafts, round(households * duplicate_rate))
    frozen = tuple(d.freeze(builder.measurements.pop(d.key, [])) for d in drafts)
    return DemoData(seed, today, frozen, planted)


class _Builder:
    def __init__(self, rng: random.Random, today: date) -> None:
        self.rng, self.day = rng, today.toordinal()
        self.kelurahan = words.kelurahan_list()
        weights = [PRIORITY_WEIGHT if k.priority else 1.0 for k in self.kelurahan]
        self.kelurahan_cum = list(itertools.accumulate(weights))
        self.flavour_cum = list(itertools.accumulate(words.FLAVOUR_WEIGHTS))
        self.counts = [(list(c), list(itertools.accumulate(c.values()))) for *_, c in STATUS_MIX]
        self.niks: dict[str, int] = defaultdict(int)  # the last serial given to each prefix
        self.kks: dict[str, int] = defaultdict(int)
        self.measurements: dict[str, list[DemoMeasurement]] = {}

    def household(self, key: str) -> _Draft:
        rng = self.rng
        kel = self.kelurahan[_pick(rng, self.kelurahan_cum)]
        status, count = self._status(kel.priority)
        flavour = words.FLAVOURS[_pick(rng, self.flavour_cum)]
        people = words.roster(rng, self.day)
        answers = self._answers(count, people)
        draft = _Draft(
            key, kel, flavour, rng.choice(words.FAMILY_NAMES) if flavour == "kristen" else None,
            rng.random() < 0.35, status != "tidak_miskin",
            answers["anak_usia_sekolah_tidak_sekolah"], answers, [], [],
        )  # fmt: skip
        for index, (relation, sex, born) in enumerate(people):
            draft.members.append(self._member(draft, index, relation, sex, born))
        draft.rt = rng.randint(1, len(kel.rw_of_rt))
        draft.rw = kel.rw_of_rt[draft.rt - 1]
        draft.address = words.address(rng, kel, draft.rt)
        draft.no_kk = self._no_kk(kel.kecamatan, draft.members)
        for member in draft.members:
            if self.day - member.birth_date.toordinal() < growth.OUTSIDE_STANDARD_FROM_DAY:
                measured = self._measure(member, HAZ_MEAN[status])
                self.measurements.setdefault(key, []).extend(measured)
        return draft

    def _status(self, priority: bool) -> tuple[Status, int]:
        draw = self.rng.random()
        for (status, in_priority, elsewhere, _), (counts, cum) in zip(
            STATUS_MIX, self.counts, strict=True
        ):
            share = in_priority if priority else elsewhere
            if draw < share:
                return status, counts[_pick(self.rng, cum)]
            draw -= share
        raise AssertionError("the last status takes the rest")

    def _answers(self, count: int, people: list[tuple[Relation, Sex, int]]) -> dict[str, bool]:
        """`count` of the city's criteria, drawn by weight (Efraimidis-Spirakis)."""
        rng, day = self.rng, self.day
        school_age = any(7 * _YEAR <= day - born < 19 * _YEAR for _, _, born in people[1:])
        keys = sorted(
            (
                (rng.random() ** (1 / weight), criterion)
                for criterion, weight in CRITERIA_WEIGHTS.items()
                if school_age or criterion != "anak_usia_sekolah_tidak_sekolah"
            ),
            reverse=True,
        )
        met = {criterion for _, criterion in keys[:count]}
        return {criterion: criterion in met for criterion in CRITERIA_WEIGHTS}

    def _member(
        self, draft: _Draft, index: int, relation: Relation, sex: Sex, born: int
    ) -> DemoMember:
        rng = self.rng
        birth = date.fromordinal(born)
        if birth.year < 1962 and rng.random() < 0.3:  # date unknown: the KK's placeholders
            birth = date(birth.year, *rng.choice(((1, 1), (1, 1), (12, 31), (7, 1))))
        age = (self.day - birth.toordinal()) / _YEAR
        nik = None
        if rng.random() >= (0.9 if age < 1 else 0.3 if age < 5 else 0.004):
            if rng.random() < (0.15 if age >= 18 else 0.03):
                region = rng.choice(words.BORN_ELSEWHERE[draft.flavour])
            else:
                here = draft.kel.kecamatan if rng.random() < 0.8 else rng.choice(("01", "02", "03"))
                region = f"6474{here}"
            nik = _serial(self.niks, f"{region}{_ddmmyy(birth, woman=sex == 'P')}")
        for _ in range(3):  # parents do not give two children one name
            name = words.person_name(
                rng, sex == "L", birth.year, draft.flavour, draft.family_name, age
            )
            if name not in draft.names:
                break
        draft.names.append(name)
        if index == 0 and draft.answers["kepala_keluarga_tanpa_penghasilan_tetap"]:
            informal = rng.random() < 0.5
            job = words.occupation(rng, True, draft.kel.coastal) if informal else words.NOT_WORKING
        elif draft.truant and relation in ("anak", "cucu", "lainnya") and 7 <= age < 19:
            job, draft.truant = words.NOT_WORKING, False
        else:
            job = words.job(rng, index == 0, relation, sex, age, draft.poor, draft.kel.coastal)
        return DemoMember(
            f"{draft.key}-{index + 1:02d}", nik, name.upper() if draft.upper else name, sex, birth,
            relation, job, job not in _IDLE, rng.random() < (0.05 if age >= 60 else 0.018),
            sex == "P" and relation in ("istri", "menantu") and 18 <= age <= 40
            and rng.random() < 0.045,
        )  # fmt: skip

    def _no_kk(self, kecamatan: str, members: list[DemoMember]) -> str:
        """6474 + kecamatan + issue date (DDMMYY, after the last registered birth) + serial."""
        newest = max((m.birth_date.toordinal() for m in members if m.nik), default=0)
        adult_head = members[0].birth_date.toordinal() + int(17 * _YEAR)
        first = max(newest, adult_head, date(2005, 1, 1).toordinal())
        issued = date.fromordinal(self.rng.randint(min(first, self.day), self.day))
        return _serial(self.kks, f"6474{kecamatan}{_ddmmyy(issued)}")

    def _measure(self, child: DemoMember, haz_mean: float) -> list[DemoMeasurement]:
        """One or two Posyandu visits in the last 6 months; the child keeps its z-scores."""
        rng = self.rng
        born = child.birth_date.toordinal()
        earliest = max(born, self.day - 182)
        visits = 2 if rng.random() < 0.4 and self.day - earliest >= 28 else 1
        haz = max(-5.0, min(3.5, rng.gauss(haz_mean, 1.1)))
        waz = max(haz - 1.5, min(haz + 1.5, 0.55 * haz + rng.gauss(-0.3, 0.85)))
        result = []
        for day in sorted(rng.sample(range(earliest, self.day + 1), visits)):
            age = day - born
            # growth's WHO tables, loaded once at its import (growth has no public lookup).
            cm = _from_z(growth._LENGTH_FOR_AGE[child.sex][age], haz)
            kg = _from_z(growth._WEIGHT_FOR_AGE[child.sex][age], max(-3.0, min(3.0, waz)))
            position: Position = "lying" if age < growth.STANDING_FROM_DAY else "standing"
            when = date.fromordinal(day)
            result.append(DemoMeasurement(child.id, when, round(cm, 1), position, round(kg, 1)))
            haz, waz = haz + rng.gauss(0, 0.12), waz + rng.gauss(0, 0.15)
        return result

    def plant(self, drafts: list[_Draft], count: int) -> list[tuple[str, str]]:
        """Register `count` members again, in another household of their kelurahan, with slips."""
        rng = self.rng
        by_kelurahan: dict[str, list[_Draft]] = defaultdict(list)
        for draft in drafts:
            by_kelurahan[draft.kel.code].append(draft)
        registered = {d.key: len(d.members) for d in drafts}  # copies are not copied again
        planted: list[tuple[str, str]] = []
        for source in rng.sample(drafts, min(count, len(drafts))):
            targets = [rng.choice(by_kelurahan[source.kel.code]) for _ in range(6)]
            target = next((t for t in targets if t is not source and len(t.members) < 8), None)
            if target is None:
                continue
            index = rng.randrange(registered[source.key])
            original, name = source.members[index], source.names[index]
            born = original.birth_date
            if born.day <= 12 and born.day != born.month and rng.random() < 0.25:
                born = date(born.year, born.day, born.month)  # and the name kept, 40 %
            if born == original.birth_date or rng.random() < 0.6:
                name = words.misspell(rng, name)
            if name == source.names[index] and born == original.birth_date:
                name = words.misspell(rng, name, kinds=("edit",))
            target.names.append(name)
            copy = DemoMember(
                f"{target.key}-{len(target.members) + 1:02d}", None,
                name.upper() if target.upper else name, original.sex, born, "lainnya",
                original.occupation, original.working, original.disability, False,
            )  # fmt: skip
            target.members.append(copy)
            planted.append((original.id, copy.id))
        return planted


def _pick(rng: random.Random, cumulative: Sequence[float]) -> int:
    return bisect.bisect(cumulative, rng.random() * cumulative[-1])


def _ddmmyy(day: date, *, woman: bool = False) -> str:
    return f"{day.day + (40 if woman else 0):02d}{day.month:02d}{day.year % 100:02d}"


def _serial(last: dict[str, int], prefix: str) -> str:
    last[prefix] += 1
    return f"{prefix}{last[prefix]:04d}"


def _from_z(lms: tuple[float, float, float], z: float) -> float:
    """The measurement at z-score `z` (the LMS formula solved for the value)."""
    lam, mu, sigma = lms
    if abs(lam) < 1e-9:
        return mu * math.exp(sigma * z)
    return float(mu * (1 + lam * sigma * z) ** (1 / lam))


# --- writers --------------------------------------------------------------------------------


def to_rows(data: DemoData) -> Iterator[dict[str, str]]:
    """One row per member, the household's columns repeated: the registry's import format."""
    yes_no = {True: "ya", False: "tidak"}
    for h in data.households:
        household = {
            "no_kk": h.no_kk,
            "kelurahan": h.kelurahan_code,
            "rw": str(h.rw),
            "rt": str(h.rt),
            "alamat": h.address,
            "nama_kepala": h.head.name,
        }
        for m in h.members:
            yield {
                **household,
                "nik": m.nik or "",
                "nama": m.name,
                "jenis_kelamin": m.sex,
                "tanggal_lahir": m.birth_date.isoformat(),
                "hubungan": m.relation,
                "pekerjaan": m.occupation,
                "bekerja": yes_no[m.working],
                "disabilitas": yes_no[m.disability],
                "hamil": yes_no[m.pregnant],
            }


def write_csv(data: DemoData, path: Path | str) -> int:
    """Write the import CSV (UTF-8, comma separated); returns the number of member rows."""
    rows = 0
    with Path(path).open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=IMPORT_HEADERS)
        writer.writeheader()
        for row in to_rows(data):
            writer.writerow(row)
            rows += 1
    return rows


def write_xlsx(data: DemoData, path: Path | str) -> int:
    """Write the import workbook (one sheet, every cell text so 16-digit numbers survive)."""
    rows = ([row[header] for header in IMPORT_HEADERS] for row in to_rows(data))
    return write_xlsx_rows(path, rows)


Cell = str | int | float | date | None
_MAIN: Final = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL: Final = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG: Final = "http://schemas.openxmlformats.org/package/2006/relationships"
_TYPES: Final = "http://schemas.openxmlformats.org/package/2006/content-types"
_SML: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_XML: Final = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_EXCEL_EPOCH: Final = date(1899, 12, 30).toordinal()
_XML_ILLEGAL: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
_EXACT: Final = 10**15  # Excel keeps 15 significant digits: longer numbers must be text
# One font, fill and border; cell style 0 plain, 1 a date (built-in number format 14).
_STYLES: Final = (
    f'<styleSheet xmlns="{_MAIN}"><fonts count="1"><font><sz val="11"/><name val="Calibri"/>'
    '</font></fonts><fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
    '<borders count="1"><border/></borders><cellStyleXfs count="1"><xf numFmtId="0" '
    'fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="2"><xf numFmtId="0" '
    'fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="14" fontId="0" fillId="0" '
    'borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs><cellStyles count="1">'
    '<cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)
_PARTS: Final = (  # (relationship, part in xl/, content type)
    ("worksheet", "worksheets/sheet1.xml", "worksheet+xml"),
    ("styles", "styles.xml", "styles+xml"),
    ("sharedStrings", "sharedStrings.xml", "sharedStrings+xml"),
)


def write_xlsx_rows(
    path: Path | str,
    rows: Iterable[Sequence[Cell]],
    *,
    headers: Sequence[str] = IMPORT_HEADERS,
    sheet: str = "anggota",
) -> int:
    """Write one sheet as Excel does (shared strings, a dimension); returns the rows below the
    header. `str` is a text cell, `int`/`float` a number, `date` a date cell, None or "" empty.

    Written directly with zipfile: about 7 times faster than openpyxl's write-only mode on
    180,000 members. A 16-digit NIK or No. KK must be a `str`; a longer number is refused.
    """
    strings: dict[str, int] = {}
    letters = [_column_letter(i) for i in range(len(headers))]

    def cell(ref: str, value: Cell) -> str:
        if isinstance(value, str):
            return f'<c r="{ref}" t="s"><v>{strings.setdefault(value, len(strings))}</v></c>'
        if isinstance(value, bool):
            return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
        if isinstance(value, date):  # a datetime keeps its day
            return f'<c r="{ref}" s="1"><v>{value.toordinal() - _EXCEL_EPOCH}</v></c>'
        if isinstance(value, int | float) and abs(value) < _EXACT:
            return f'<c r="{ref}"><v>{value!r}</v></c>'
        raise ValueError(f"{ref}: {value!r} cannot be written exactly as a number; pass text")

    count = 0
    with tempfile.TemporaryFile() as body:  # the dimension comes first but is known last
        for number, values in enumerate(itertools.chain([headers], rows), start=1):
            cells = "".join(
                cell(f"{letter}{number}", value)
                for letter, value in zip(letters, values, strict=True)
                if value is not None and value != ""
            )
            body.write(f'<row r="{number}">{cells}</row>'.encode())
            count = number - 1
        body.seek(0)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
            with book.open("xl/worksheets/sheet1.xml", "w") as part:
                dimension = f"A1:{letters[-1]}{count + 1}"
                part.write(
                    f'{_XML}<worksheet xmlns="{_MAIN}"><dimension ref="{dimension}"/>'
                    "<sheetData>".encode()
                )
                shutil.copyfileobj(body, part, 1 << 20)
                part.write(b"</sheetData></worksheet>")
            shared = "".join(map(_shared_string, strings))
            book.writestr(
                "xl/sharedStrings.xml",
                f'{_XML}<sst xmlns="{_MAIN}" count="{len(strings)}" '
                f'uniqueCount="{len(strings)}">{shared}</sst>',
            )
            book.writestr("xl/styles.xml", _XML + _STYLES)
            book.writestr(
                "xl/workbook.xml",
                f'{_XML}<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets><sheet '
                f'name={quoteattr(sheet)} sheetId="1" r:id="rId1"/></sheets></workbook>',
            )
            rels = "".join(
                f'<Relationship Id="rId{i}" Type="{_REL}/{kind}" Target="{target}"/>'
                for i, (kind, target, _) in enumerate(_PARTS, start=1)
            )
            book.writestr(
                "xl/_rels/workbook.xml.rels",
                f'{_XML}<Relationships xmlns="{_PKG}">{rels}</Relationships>',
            )
            book.writestr(
                "_rels/.rels",
                f'{_XML}<Relationships xmlns="{_PKG}"><Relationship Id="rId1" '
                f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
            )
            overrides = "".join(
                f'<Override PartName="/xl/{target}" ContentType="{_SML}.{kind}"/>'
                for _, target, kind in (("", "workbook.xml", "sheet.main+xml"), *_PARTS)
            )
            book.writestr(
                "[Content_Types].xml",
                f'{_XML}<Types xmlns="{_TYPES}"><Default Extension="rels" ContentType='
                '"application/vnd.openxmlformats-package.relationships+xml"/><Default '
                f'Extension="xml" ContentType="application/xml"/>{overrides}</Types>',
            )
    return count


def _column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _shared_string(text: str) -> str:
    if _XML_ILLEGAL.search(text):
        raise ValueError(f"{text!r}: control characters cannot be written in XLSX")
    space = ' xml:space="preserve"' if text != text.strip() else ""
    return f"<si><t{space}>{escape(text)}</t></si>"
