"""Probable duplicates among household members who have no NIK. Pure: no I/O, no clock.

Members with a NIK are matched exactly elsewhere. Here a kelurahan officer gets a review queue
of pairs that are probably the same person, each with its reasons in Indonesian.

1. Names are made comparable first (names.py): titles, degrees, spelling variants, token order.
2. Blocking, because comparing all pairs of 180,000 people is 16 billion comparisons. Two people
   of the same sex are compared only when they share a key: the exact birth date (city-wide);
   inside one kelurahan, a name initial with the birth date with one digit masked (a one-digit
   typo still meets), two adjacent digits put in order (a transposition) or day and month put
   in order (a swap); across the city, the same normalised name with those date keys (someone
   who moved and whose date was mistyped). Members without a birth date meet the members of
   their kelurahan who share a distinctive name token.
3. A cheap prefilter (rapidfuzz ratio of the names) drops most blocked pairs.
4. Scoring in the Fellegi-Sunter way: log-odds weights for the name (letters that differ,
   similarity, how common it is), birth-date agreement, place and address, added and turned
   into a probability. Pairs in one household count only as an exact repeat.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from itertools import combinations, pairwise
from typing import Final, Literal

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from services.registry.names import distinctive, name_similarity, name_tokens, plain


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


DEFAULT_THRESHOLD: Final = 0.45  # chosen with benchmarks/duplicates.py (precision and recall)

_SMALL_GROUP: Final = 12  # people sharing a name, up to which their dates are compared directly
# rapidfuzz ratio (0..100) of the names, well below what a flagged pair needs: a cheap first cut
_PREFILTER: Final = 55.0

# Log-odds weights (natural log), added to _BIAS: the log-odds for two people with the same
# two-word name and birth date living in different kelurahan. They come from a logistic
# regression on synthetic Bontang data (benchmarks/duplicates.py with another seed than the
# one reported), rounded, and kept monotone where the fit was noisy (RW), so that each can be
# explained to an officer.
_BIAS: Final = 3.1
# A name is judged by how many letters differ (a typo is one or two) and by its similarity,
# which also credits dropped weak tokens and initials.
_EDIT_BONUS: Final = {1: 7.6, 2: 4.2}  # on top of the similarity weight below
_NAME_WEIGHTS: Final = tuple(  # similarity -> weight, interpolated; equal names weigh 0
    zip(
        (0.0, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0),
        (-25.0, -12.2, -11.6, -11.1, -10.4, -9.6, -8.7, -7.8, -6.8),
        strict=True,
    )
)
# A different given name with the rest equal: not even a shared RT, house and birth date (twins
# on two family cards) should make that a probable duplicate.
_OTHER_WORD: Final = -14.0
# Agreeing on a name many people share, or on a one-word name, says less about identity.
_COMMON_NAME: Final = 10  # people of one sex with the same name before it counts as common
_COMMON_NAME_WEIGHT: Final = -0.8  # per natural-log unit above _COMMON_NAME
_COMMON_NAME_FLOOR: Final = -4.0
_ONE_WORD_NAME: Final = -1.4
DateRelation = Literal["sama", "tertukar", "satu_angka", "angka_bertukar", "tahun", "kosong"]
_DATE_WEIGHTS: Final[dict[str | None, float]] = {
    "sama": 0.0,
    "sama_umum": -2.7,  # 1 January, 31 December, 1 July: written when the date was unknown
    "tertukar": -1.7,
    "angka_bertukar": -3.4,
    "satu_angka": -5.2,
    "tahun": -5.7,  # one digit of the year: also what a sibling a year or ten apart looks like
    "kosong": -6.0,
    None: -12.0,
}
_PLACEHOLDER_DAYS: Final = frozenset({"0101", "1231", "0701"})  # MMDD
_DATE_REASONS: Final[dict[str, str]] = {
    "sama": "tanggal lahir sama",
    "sama_umum": "tanggal lahir sama, tetapi tanggal ini sering dipakai bila tidak diketahui",
    "tertukar": "tanggal lahir: hari dan bulan tertukar",
    "satu_angka": "tanggal lahir beda satu angka",
    "angka_bertukar": "tanggal lahir: dua angka bertukar tempat",
    "tahun": "tahun lahir beda satu angka",
    "kosong": "tanggal lahir tidak tercatat",
}
# An RT holds about a hundred people, a kelurahan about ten thousand: sharing an RT is rare
# between strangers, while someone who moved across the city is still the same person.
_PLACE_WEIGHTS: Final = {"rt": 7.8, "rw": 4.0, "kelurahan": 3.8, "kota": 0.0}
_PLACE_REASONS: Final = {
    "rt": "RT sama",
    "rw": "RW sama, RT berbeda",
    "kelurahan": "kelurahan sama, RW berbeda",
    "kota": "kelurahan berbeda",
}
_SAME_ADDRESS: Final = 0.9  # address similarity from which it counts, for its weight
_SAME_ADDRESS_WEIGHT: Final = 2.2  # several family cards in one house: a person on two of them
_SAME_ENTRY_SCORE: Final = 0.99


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
    if (
        len(differ) == 2
        and differ[1] == differ[0] + 1
        and (sa[differ[0]], sa[differ[1]]) == (sb[differ[1]], sb[differ[0]])
    ):
        return "angka_bertukar"
    return None


def _digits(d: date) -> str:
    return f"{d.year:04d}{d.month:02d}{d.day:02d}"


def _near_date_keys(s: str) -> list[str]:
    """Keys two YYYYMMDD dates share when one typo separates them (see date_relation).

    "_" marks a masked digit, "<" two adjacent digits put in order, "~" day and month put in
    order, so keys of different kinds never collide. The century is not mistyped in practice.
    """
    keys = [s[:i] + "_" + s[i + 1 :] for i in range(2, 8)]
    keys += [f"{s[:i]}<{min(s[i], s[i + 1])}{max(s[i], s[i + 1])}{s[i + 2 :]}" for i in range(2, 7)]
    if s[6:] <= "12":
        keys.append(f"{s[:4]}~{min(s[4:6], s[6:])}{max(s[4:6], s[6:])}")
    return keys


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


@dataclass(slots=True)
class _Row:
    person: Person
    tokens: tuple[str, ...]
    sorted_name: str  # for the prefilter and for counting how common a name is
    written: str  # tokens in the order written: a typo in a first letter changes the sorting
    digits: str | None  # birth date as YYYYMMDD
    initials: str  # first letters of the distinctive tokens
    sharing: int = 0  # people of the same sex with the same name


def _row(person: Person) -> _Row:
    tokens = name_tokens(person.name)
    written = plain(tokens)
    initials = {t[0] for t in distinctive(tokens)} or {t[0] for t in written}
    digits = _digits(person.birth_date) if person.birth_date else None
    return _Row(
        person, tokens, " ".join(sorted(written)), " ".join(written), digits, "".join(initials)
    )


def candidate_pairs(
    people: Iterable[Person], *, threshold: float = DEFAULT_THRESHOLD
) -> list[Candidate]:
    """Pairs scoring at least `threshold`, most probable first."""
    rows = [_row(person) for person in people]
    counts = Counter((row.person.sex, row.sorted_name) for row in rows)
    for row in rows:
        row.sharing = counts[row.person.sex, row.sorted_name]
    found = []
    ratio = fuzz.ratio
    size = len(rows)
    for pair in _blocked_pairs(rows):
        a, b = rows[pair // size], rows[pair % size]
        if (
            ratio(a.sorted_name, b.sorted_name, score_cutoff=_PREFILTER) == 0.0
            and ratio(a.written, b.written, score_cutoff=_PREFILTER) == 0.0
        ):
            continue
        candidate = _compare(a, b)
        if candidate is not None and candidate.score >= threshold:
            found.append(candidate)
    found.sort(key=lambda c: (-c.score, c.left, c.right))
    return found


def _blocked_pairs(rows: Sequence[_Row]) -> set[int]:
    """Pairs of the same sex that share a blocking key (see the module doc), as i * n + j for
    row indexes i < j: plain ints, because a million tuples keep the garbage collector busy."""
    n = len(rows)
    by_area: dict[tuple[str, str], list[int]] = defaultdict(list)
    by_date: dict[tuple[str, str], list[int]] = defaultdict(list)
    by_name: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        person = row.person
        by_area[person.kelurahan_code, person.sex].append(index)
        if row.digits is not None:
            by_date[person.sex, row.digits].append(index)
            if row.sorted_name:
                by_name[person.sex, row.sorted_name].append(index)
    pairs: set[int] = set()
    for group in by_date.values():
        pairs.update(i * n + j for i, j in combinations(group, 2))
    for group in by_area.values():
        pairs.update(_near_date_pairs(rows, group))
    for group in by_name.values():
        # Most names are shared by a few people: checking their dates directly is cheaper.
        if len(group) <= _SMALL_GROUP:
            pairs.update(
                i * n + j
                for i, j in combinations(group, 2)
                if date_relation(rows[i].person.birth_date, rows[j].person.birth_date)
            )
        else:
            pairs.update(_near_date_pairs(rows, group))
    for group in by_area.values():
        pairs.update(_undated_pairs(rows, group))
    return pairs


def _near_date_pairs(rows: Sequence[_Row], group: list[int]) -> Iterator[int]:
    """Pairs whose birth dates are one typo apart; equal dates are paired city-wide elsewhere.

    Keys also carry a name initial: without it a masked year digit joins everyone born on the
    same day of another decade, most of them strangers by name. Losing a pair to it takes a
    date typo and a typo in the first letter of every distinctive name token together.
    Keys are made once per date and initial, because placeholder dates gather many people.
    """
    units: dict[str, list[int]] = defaultdict(list)
    for index in group:
        row = rows[index]
        if row.digits is not None:
            for initial in row.initials:
                units[row.digits + initial].append(index)
    members = list(units.values())
    # Most keys hold one unit: remember the first as a plain int and make lists only for keys
    # that turn out to be shared (millions of one-item lists keep the garbage collector busy).
    first: dict[str, int] = {}
    shared: dict[str, list[int]] = {}
    for number, unit in enumerate(units):
        for key in _near_date_keys(unit[:8]):
            key += unit[8:]
            other = first.setdefault(key, number)
            if other != number:
                shared.setdefault(key, [other]).append(number)
    n = len(rows)
    for numbers in shared.values():
        for left, right in combinations(numbers, 2):  # different dates
            for i in members[left]:
                for j in members[right]:
                    yield i * n + j if i < j else j * n + i


def _undated_pairs(rows: Sequence[_Row], group: list[int]) -> Iterator[int]:
    undated = [i for i in group if rows[i].person.birth_date is None]
    if not undated:
        return
    by_token: dict[str, list[int]] = defaultdict(list)
    for index in group:
        for token in set(distinctive(rows[index].tokens)):
            by_token[token].append(index)
    for index in undated:
        for token in set(rows[index].tokens):
            for other in by_token.get(token, ()):
                if other != index:
                    yield min(index, other) * len(rows) + max(index, other)


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
        repeat = ("tercatat dua kali dalam satu KK", _name_reason(a, b, 1.0, 0))
        return Candidate(left, right, _SAME_ENTRY_SCORE, (*repeat, "tanggal lahir sama"))
    similarity = name_similarity(a.tokens, b.tokens)
    edits = _name_edits(a, b, similarity)
    weight = _BIAS + _name_weight(similarity, edits)
    reasons = [_name_reason(a, b, similarity, edits)]
    if edits and _other_word(a, b):
        weight = _BIAS + _OTHER_WORD
        reasons.append("tetapi satu kata nama berbeda, bukan salah ketik")
    if similarity >= 0.85:
        sharing = max(a.sharing, b.sharing)
        if sharing > _COMMON_NAME:
            common = _COMMON_NAME_WEIGHT * math.log(sharing / _COMMON_NAME)
            weight += max(_COMMON_NAME_FLOOR, common)
            reasons.append(f"nama umum: {sharing} orang bernama sama")
        if len(distinctive(a.tokens)) <= 1:
            weight += _ONE_WORD_NAME
    relation: str | None = date_relation(p.birth_date, q.birth_date)
    if relation == "sama" and p.birth_date and p.birth_date.strftime("%m%d") in _PLACEHOLDER_DAYS:
        relation = "sama_umum"
    weight += _DATE_WEIGHTS[relation]
    if relation is not None:
        reasons.append(_DATE_REASONS[relation])
    place = _place(p, q)
    weight += _PLACE_WEIGHTS[place]
    reasons.append(_PLACE_REASONS[place])
    address = address_similarity(p.address, q.address)
    if address >= _SAME_ADDRESS:
        weight += _SAME_ADDRESS_WEIGHT
        reasons.append(f"alamat mirip {address:.2f}")
    score = round(1.0 / (1.0 + math.exp(-weight)), 3)
    return Candidate(left, right, score, tuple(reasons))


def _name_edits(a: _Row, b: _Row, similarity: float) -> int:
    """Letters that differ between the normalised names (3 means three or more)."""
    if similarity == 1.0:
        return 0
    return min(
        OSA.distance(a.sorted_name, b.sorted_name, score_cutoff=3),
        OSA.distance(a.written, b.written, score_cutoff=3),
    )


def _other_word(a: _Row, b: _Row) -> bool:
    """The one distinctive word that differs, when it is another word rather than a typo:
    twins and siblings share the rest (Muhammad Hasan Saputra, Muhammad Husain Saputra)."""
    left, right = Counter(distinctive(a.tokens)), Counter(distinctive(b.tokens))
    only_a, only_b = list((left - right).elements()), list((right - left).elements())
    if len(only_a) != 1 or len(only_b) != 1:
        return False
    x, y = only_a[0], only_b[0]
    return OSA.distance(x, y) >= (2 if max(len(x), len(y)) <= 6 else 3)


def _name_weight(similarity: float, edits: int) -> float:
    return 0.0 if edits == 0 else _interpolate(similarity) + _EDIT_BONUS.get(edits, 0.0)


def _name_reason(a: _Row, b: _Row, similarity: float, edits: int) -> str:
    if edits == 1:
        return f"nama beda satu huruf (mirip {similarity:.2f})"
    if edits == 2:
        return f"nama beda dua huruf (mirip {similarity:.2f})"
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


def _place(p: Person, q: Person) -> str:
    if p.kelurahan_code != q.kelurahan_code:
        return "kota"
    if p.rw != q.rw:
        return "kelurahan"
    return "rw" if p.rt != q.rt else "rt"
