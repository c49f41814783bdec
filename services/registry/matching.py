"""Probable duplicates among household members who have no NIK. Pure: no I/O, no clock.

Members with a NIK are matched exactly elsewhere. Here a kelurahan officer gets a review queue
of pairs that are probably the same person, each with its reasons in Indonesian.

1. Blocking, because comparing all pairs of 180,000 people is 16 billion comparisons. Two people
   are compared only when they share a key: inside one kelurahan and sex, the birth date with one
   digit masked (a one-digit typo still meets), with two adjacent digits put in order (a
   transposition still meets) or with day and month put in order (a swap still meets); across
   the city, the exact birth date, and the normalised name with those same date keys (someone
   who moved and whose date was mistyped). Members without a birth date meet the members of
   their kelurahan who share a distinctive name token.
2. A cheap prefilter (rapidfuzz ratio of the token-sorted names) drops most blocked pairs.
3. Scoring in the Fellegi-Sunter way: log-odds weights for name similarity, birth-date agreement,
   place and address, added and turned into a probability. Weights were set by hand and checked
   on synthetic data (benchmarks/duplicates.py), so each reason's effect can be explained.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from itertools import combinations, pairwise
from typing import Final, Literal

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


@dataclass(frozen=True)
class Person:
    """What the matcher sees of a member without a NIK."""

    member_id: str
    household_id: str
    name: str
    birth_date: date | None
    sex: Literal["L", "P"]
    kelurahan_code: str
    rw: int
    rt: int
    address: str


@dataclass(frozen=True)
class Candidate:
    left: str  # member ids, left < right
    right: str
    score: float  # 0..1, the estimated probability that both are one person
    reasons: tuple[str, ...]  # Indonesian, shown to the kelurahan officer


DEFAULT_THRESHOLD: Final = 0.5  # chosen on benchmarks/duplicates.py: see its report

# Titles and honorifics say nothing about who someone is and are written inconsistently.
_TITLES: Final = frozenset(
    _words(
        "h hj haji hajjah hajah bpk bapak pak ibu bu ny nyonya tn tuan sdr sdri saudara "
        "saudari dr drs dra ir prof kh ust ustad ustadz ustadzah alm almh almarhum almarhumah"
    )
)
# Academic degrees, compacted (S.Pd. -> spd). Those that are also names or name abbreviations
# ("St." is Siti) count as degrees only when written with an inner dot or after a comma.
_DEGREES: Final = frozenset(
    _words(
        "spd spdi sag sak sap sars se sei sfarm sft sgz sh shi shum sip sikom skeb sked skep "
        "skes skg skm skom ssos spsi ssi ssn sst st stp sth sthi str ssy amd amdkeb amdkep "
        "amk mpd msi mm mh mkes mkom mag mt ma phd mba bsc msc ba ns bdn spog"
    )
)
_AMBIGUOUS_DEGREES: Final = frozenset({"st", "ma", "ba", "ns"})
_DEGREE_TAIL: Final = "|".join(sorted({d[1:] for d in _DEGREES if len(d) > 1}, key=len)[::-1])
_SPACED_DEGREE: Final = re.compile(rf"\b([sa])\.\s+({_DEGREE_TAIL})\b")
# Spellings of one name. Keys are cleaned tokens, values what both sides are compared as.
_VARIANTS: Final = {
    **dict.fromkeys(
        _words(
            "m muh moh mhd mohd muhd mochammad mochamad muchammad mukhammad mukhamad muhamad "
            "muhammed mohammad mohamad mohammed mohamed moch much"
        ),
        "muhammad",
    ),
    **dict.fromkeys(_words("st sitti"), "siti"),
    **dict.fromkeys(_words("noor nor noer"), "nur"),
    **dict.fromkeys(_words("abd abdl"), "abdul"),
    **dict.fromkeys(_words("ach achmad akhmad ahmat ahmd"), "ahmad"),
}
# Old and regional spellings (Soekarno/Sukarno, Chairul/Khairul/Hairul, Rizky/Rizki, Aminah/Amina).
_SPELLING: Final = (
    ("oe", "u"),
    ("dj", "j"),
    ("tj", "c"),
    ("sj", "sy"),
    ("nj", "ny"),
    ("ch", "kh"),
    ("kh", "h"),
    ("dh", "d"),
    ("th", "t"),
    ("ph", "f"),
    ("q", "k"),
    ("x", "ks"),
    ("v", "f"),
)
_FINAL_Y = re.compile(r"y$")
_FINAL_H = re.compile(r"(?<=[aiueo])h$")
_DOUBLED = re.compile(r"(.)\1+")
# Tokens so common that leaving them out ("Muhammad Rizki" / "Rizki") barely changes who it is.
_WEAK: Final = frozenset({"muhamad", "siti", "nur", "abdul", "ahmad", "andi", "sri"})
_WEAK_COST: Final = 0.25
_PATRONYMIC: Final = frozenset({"bin", "binti"})

_PREFILTER: Final = 55.0  # rapidfuzz ratio (0..100) of token-sorted names; scores need ~85
# Log-odds weights. Name similarity is interpolated between these points.
_NAME_WEIGHTS: Final = (
    (0.0, -10.0),
    (0.75, -4.0),
    (0.85, 0.5),
    (0.9, 2.5),
    (0.95, 4.0),
    (1.0, 5.5),
)
DateRelation = Literal["sama", "tertukar", "satu_angka", "angka_bertukar", "tahun", "kosong"]
_DATE_WEIGHTS: Final[dict[DateRelation | None, float]] = {
    "sama": 4.5,
    "tertukar": 3.0,
    "satu_angka": 2.5,
    "angka_bertukar": 2.5,
    "tahun": 1.5,  # one digit of the year: also what a sibling a year or ten apart looks like
    "kosong": 0.0,
    None: -6.0,
}
_DATE_REASONS: Final[dict[DateRelation, str]] = {
    "sama": "tanggal lahir sama",
    "tertukar": "tanggal lahir: hari dan bulan tertukar",
    "satu_angka": "tanggal lahir beda satu angka",
    "angka_bertukar": "tanggal lahir: dua angka bertukar tempat",
    "tahun": "tahun lahir beda satu angka",
    "kosong": "tanggal lahir tidak tercatat",
}
_BIAS: Final = -6.0
_SAME_ENTRY_SCORE: Final = 0.99


@lru_cache(maxsize=1 << 16)
def name_tokens(name: str) -> tuple[str, ...]:
    """The name as comparable tokens: no titles or degrees, one spelling per name."""
    text = _SPACED_DEGREE.sub(r"\1.\2", name.lower())
    head, _, tail = text.partition(",")
    tokens: list[str] = []
    patronymic = False
    for raw in re.split(r"[\s\-/]+", head):
        compact = re.sub(r"[^a-z]", "", raw)
        if not compact or (compact in _TITLES and not tokens):
            continue
        if compact in _DEGREES and (
            compact not in _AMBIGUOUS_DEGREES or re.search(r"[a-z]\.[a-z]", raw)
        ):
            continue
        for part in re.split(r"\.+", raw):
            cleaned = re.sub(r"[^a-z]", "", part)
            if cleaned in _PATRONYMIC:
                patronymic = True
            elif cleaned:
                spelled = _spelling(_VARIANTS.get(cleaned, cleaned))
                tokens.append(f"~{spelled}" if patronymic else spelled)
    # After a comma come degrees and titles; anything else there is a name written surname-first.
    for raw in re.split(r"[\s,]+", tail):
        compact = re.sub(r"[^a-z]", "", raw)
        if compact and compact not in _DEGREES and compact not in _TITLES:
            tokens.append(_spelling(_VARIANTS.get(compact, compact)))
    return tuple(tokens)


def _spelling(token: str) -> str:
    for old, new in _SPELLING:
        token = token.replace(old, new)
    token = _FINAL_H.sub("", _FINAL_Y.sub("i", token))
    return _DOUBLED.sub(r"\1", token)


def _token_cost(token: str) -> float:
    # "~" marks a father's name after bin/binti: often left out, so weak like "Muhammad".
    if token.startswith("~") or token in _WEAK:
        return _WEAK_COST * len(token.lstrip("~"))
    return float(len(token))


def name_similarity(a: Sequence[str], b: Sequence[str]) -> float:
    """0..1: one minus the edits needed per character, tokens aligned in any order."""
    if not a or not b:
        return 0.0
    if sorted(a) == sorted(b):
        return 1.0
    a = [t.lstrip("~") if t.startswith("~") else t for t in a]
    b = [t.lstrip("~") if t.startswith("~") else t for t in b]
    # Compounds are written both ways (Nurhayati / Nur Hayati): compare the names run together.
    joined = 1.0 - OSA.normalized_distance(
        _DOUBLED.sub(r"\1", "".join(a)), _DOUBLED.sub(r"\1", "".join(b))
    )
    pairs = sorted(
        (_token_distance(x, y) / max(len(x), len(y)), _token_distance(x, y), i, j)
        for i, x in enumerate(a)
        for j, y in enumerate(b)
    )
    used_a: set[int] = set()
    used_b: set[int] = set()
    cost = 0.0
    for _, distance, i, j in pairs:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            cost += distance
    cost += sum(_token_cost(t) for i, t in enumerate(a) if i not in used_a)
    cost += sum(_token_cost(t) for j, t in enumerate(b) if j not in used_b)
    aligned = 1.0 - cost / max(sum(map(len, a)), sum(map(len, b)))
    return max(0.0, joined, aligned)


def _token_distance(x: str, y: str) -> int:
    if len(x) == 1 or len(y) == 1:  # an initial: "A. Rahman" stands for a name starting with A
        return 1 if x[0] == y[0] else max(len(x), len(y))
    return OSA.distance(x, y)


def date_relation(a: date | None, b: date | None) -> DateRelation | None:
    """How two birth dates agree, or None when no single typo explains the difference."""
    if a is None or b is None:
        return "kosong"
    if a == b:
        return "sama"
    if a.year == b.year and a.day == b.month and a.month == b.day:
        return "tertukar"
    sa, sb = _digits(a), _digits(b)
    differ = [i for i in range(8) if sa[i] != sb[i]]
    if len(differ) == 1:
        return "tahun" if differ[0] < 4 else "satu_angka"
    if len(differ) == 2 and differ[1] == differ[0] + 1 and sa[differ[0]] == sb[differ[1]]:
        return "angka_bertukar"  # two differing adjacent digits with one shared: a swap
    return None


def _digits(d: date) -> str:
    return f"{d.year:04d}{d.month:02d}{d.day:02d}"


def _date_keys(d: date) -> Iterator[str]:
    """Keys two dates share when one typo separates them (see date_relation)."""
    s = _digits(d)
    for i in range(2, 8):  # the century is not mistyped in practice
        yield f"m{i}{s[:i]}{s[i + 1 :]}"
    for i in range(2, 7):
        yield f"t{i}{s[:i]}{min(s[i], s[i + 1])}{max(s[i], s[i + 1])}{s[i + 2 :]}"
    if d.day <= 12:
        yield f"s{s[:4]}{min(s[4:6], s[6:])}{max(s[4:6], s[6:])}"


@lru_cache(maxsize=1 << 16)
def _address_text(address: str) -> str:
    text = re.sub(r"[^a-z0-9]+", " ", address.lower())
    text = re.sub(r"\b(jalan|jln)\b", "jl", text)
    text = re.sub(r"\b(gang)\b", "gg", text)
    text = re.sub(r"\b(nomor|nomer)\b", "no", text)
    text = re.sub(r"\b(rt|rw)\s*\d+\b", " ", text)  # RT and RW are compared as numbers
    return " ".join(text.split())


def address_similarity(a: str, b: str) -> float:
    left, right = _address_text(a), _address_text(b)
    if not left or not right:
        return 0.0
    return fuzz.token_set_ratio(left, right) / 100.0


@dataclass(frozen=True, slots=True)
class _Row:
    person: Person
    tokens: tuple[str, ...]
    sorted_name: str


def candidate_pairs(
    people: Iterable[Person], *, threshold: float = DEFAULT_THRESHOLD
) -> list[Candidate]:
    """Pairs scoring at least `threshold`, most probable first."""
    rows = []
    for person in people:
        tokens = name_tokens(person.name)
        rows.append(_Row(person, tokens, " ".join(sorted(t.lstrip("~") for t in tokens))))
    found = []
    for i, j in _blocked_pairs(rows):
        candidate = _compare(rows[i], rows[j])
        if candidate is not None and candidate.score >= threshold:
            found.append(candidate)
    found.sort(key=lambda c: (-c.score, c.left, c.right))
    return found


def _blocked_pairs(rows: Sequence[_Row]) -> set[tuple[int, int]]:
    by_area: dict[tuple[str, str], list[int]] = defaultdict(list)
    by_date: dict[tuple[str, date], list[int]] = defaultdict(list)
    by_name: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        person = row.person
        by_area[person.kelurahan_code, person.sex].append(index)
        if person.birth_date is not None:
            by_date[person.sex, person.birth_date].append(index)
            if row.sorted_name:
                by_name[person.sex, row.sorted_name].append(index)
    pairs: set[tuple[int, int]] = set()
    for group in by_date.values():
        pairs.update(combinations(group, 2))
    for group in (*by_area.values(), *by_name.values()):
        if len(group) > 1:
            pairs.update(_near_date_pairs(rows, group))
    for group in by_area.values():
        pairs.update(_undated_pairs(rows, group))
    return pairs


def _near_date_pairs(rows: Sequence[_Row], group: list[int]) -> Iterator[tuple[int, int]]:
    blocks: dict[str, list[int]] = defaultdict(list)
    for index in group:
        birth_date = rows[index].person.birth_date
        if birth_date is not None:
            for key in _date_keys(birth_date):
                blocks[key].append(index)
    for block in blocks.values():
        yield from combinations(block, 2)


def _undated_pairs(rows: Sequence[_Row], group: list[int]) -> Iterator[tuple[int, int]]:
    undated = [i for i in group if rows[i].person.birth_date is None]
    if not undated:
        return
    by_token: dict[str, list[int]] = defaultdict(list)
    for index in group:
        for token in set(rows[index].tokens):
            if token not in _WEAK and not token.startswith("~") and len(token) > 1:
                by_token[token].append(index)
    for index in undated:
        for token in set(rows[index].tokens):
            for other in by_token.get(token, ()):
                if other != index:
                    yield (min(index, other), max(index, other))


def _compare(a: _Row, b: _Row) -> Candidate | None:
    p, q = a.person, b.person
    if p.sex != q.sex or p.member_id == q.member_id:
        return None
    left, right = sorted((p.member_id, q.member_id))
    if p.household_id == q.household_id:
        # One household legitimately holds similar names and dates (twins, a son named after
        # his father); only an exact repeat is a double entry.
        if a.sorted_name != b.sorted_name or p.birth_date is None or p.birth_date != q.birth_date:
            return None
        return Candidate(
            left,
            right,
            _SAME_ENTRY_SCORE,
            ("tercatat dua kali dalam satu KK", _name_reason(a, b, 1.0), "tanggal lahir sama"),
        )
    if fuzz.ratio(a.sorted_name, b.sorted_name, score_cutoff=_PREFILTER) == 0.0:
        return None
    similarity = name_similarity(a.tokens, b.tokens)
    relation = date_relation(p.birth_date, q.birth_date)
    weight = _BIAS + _interpolate(similarity) + _DATE_WEIGHTS[relation]
    reasons = [_name_reason(a, b, similarity)]
    if relation is not None:
        reasons.append(_DATE_REASONS[relation])
    place_weight, place_reason = _place(p, q)
    weight += place_weight
    reasons.append(place_reason)
    address = address_similarity(p.address, q.address)
    if address >= 0.75:
        weight += 1.0 if address >= 0.9 else 0.5
        reasons.append(f"alamat mirip {address:.2f}")
    score = round(1.0 / (1.0 + math.exp(-weight)), 3)
    return Candidate(left, right, score, tuple(reasons))


def _name_reason(a: _Row, b: _Row, similarity: float) -> str:
    if similarity < 1.0:
        return f"nama mirip {similarity:.2f}"
    if a.person.name.strip().lower() == b.person.name.strip().lower():
        return "nama sama"
    if a.tokens == b.tokens:
        return "nama sama setelah gelar dan ejaan diseragamkan"
    return "nama sama, urutan kata berbeda"


def _interpolate(similarity: float) -> float:
    for (x0, y0), (x1, y1) in pairwise(_NAME_WEIGHTS):
        if similarity <= x1:
            return y0 + (y1 - y0) * (similarity - x0) / (x1 - x0)
    return _NAME_WEIGHTS[-1][1]


def _place(p: Person, q: Person) -> tuple[float, str]:
    if p.kelurahan_code != q.kelurahan_code:
        return -1.0, "kelurahan berbeda"
    if p.rw != q.rw:
        return 0.5, "kelurahan sama, RW berbeda"
    if p.rt != q.rt:
        return 1.0, "RW sama, RT berbeda"
    return 1.5, "RT sama"
