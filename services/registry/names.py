"""Indonesian personal names made comparable: titles, degrees and spelling variants.

Pure and cached. Used by the duplicate matcher (matching.py): "Hj. Siti Aminah, S.Pd",
"St. Aminah" and "AMINAH SITI" all become the tokens ("siti", "amina").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Final

from rapidfuzz.distance import OSA


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


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
# Old and regional spellings: Soekarno/Sukarno, Noordin/Nurdin, Chairul/Khairul/Hairul,
# Rizky/Rizki, Aminah/Amina.
_SPELLING: Final = (
    ("oe", "u"),
    ("oo", "u"),
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
_DOUBLED = re.compile(r"([b-df-hj-np-tv-z])\1+")  # Nurjannah/Nurjanah; "aa" is a typo
# Tokens so common that leaving them out ("Muhammad Rizki" / "Rizki") barely changes who it is.
WEAK: Final = frozenset({"muhamad", "siti", "nur", "abdul", "ahmad", "andi", "sri"})
_WEAK_COST: Final = 0.25
_PATRONYMIC: Final = frozenset({"bin", "binti"})


@lru_cache(maxsize=1 << 16)
def name_tokens(name: str) -> tuple[str, ...]:
    """The name as comparable tokens: no titles or degrees, one spelling per name."""
    text = _SPACED_DEGREE.sub(r"\1.\2", name.lower())
    head, _, tail = text.partition(",")
    tokens: list[str] = []
    patronymic = False
    for raw in re.split(r"[\s\-/]+", head):
        compact = re.sub(r"[^a-z]", "", raw)
        if not compact or compact in _TITLES:
            continue
        if compact in _DEGREES and (
            compact not in _AMBIGUOUS_DEGREES or re.search(r"[a-z]\.[a-z]", raw)
        ):
            continue
        for part in re.split(r"\.+", raw):
            cleaned = re.sub(r"[^a-z]", "", part)
            if cleaned in _TITLES:  # "H.Ahmad" written without a space
                continue
            if cleaned in _PATRONYMIC:
                patronymic = True
            elif cleaned:
                spelled = _spelling(_VARIANTS.get(cleaned, cleaned))
                if spelled not in _SPELLED_TITLES:  # "Iboe", "Hadji": old spellings of titles
                    tokens.append(f"~{spelled}" if patronymic else spelled)
    # After a comma come degrees and titles; anything else there is a name written surname-first.
    for raw in re.split(r"[\s,]+", tail):
        compact = re.sub(r"[^a-z]", "", raw)
        if compact and compact not in _DEGREES | _TITLES and not re.search(r"[a-z]\.[a-z]", raw):
            tokens.append(_spelling(_VARIANTS.get(compact, compact)))
    return tuple(tokens)


def _spelling(token: str) -> str:
    """One spelling for old, regional and doubled-letter variants of a name token."""
    for old, new in _SPELLING:
        token = token.replace(old, new)
    return _FINAL_H.sub("", _DOUBLED.sub(r"\1", _FINAL_Y.sub("i", token)))


_SPELLED_TITLES: Final = frozenset(_spelling(t) for t in _TITLES if len(t) > 2)


def _token_cost(token: str) -> float:
    # "~" marks a father's name after bin/binti: often left out, so weak like "Muhammad".
    if token.startswith("~") or token in WEAK:
        return _WEAK_COST * len(token.lstrip("~"))
    return float(len(token))


def name_similarity(a: Sequence[str], b: Sequence[str]) -> float:
    """0..1: one minus the edits needed per character, tokens aligned in any order."""
    if not a or not b:
        return 0.0
    if sorted(a) == sorted(b):
        return 1.0
    marked_a, marked_b = a, b  # keep the mark of a father's name for the cost of leaving it out
    a, b = plain(a), plain(b)
    # Compounds are written both ways (Nurhayati / Nur Hayati): compare the names run together.
    joined = 1.0 - OSA.normalized_distance(
        _DOUBLED.sub(r"\1", "".join(a)), _DOUBLED.sub(r"\1", "".join(b))
    )
    distances = [(_token_distance(x, y), i, j) for i, x in enumerate(a) for j, y in enumerate(b)]
    # Align the closest tokens first, closeness relative to the tokens' length.
    pairs = sorted((d / max(len(a[i]), len(b[j])), d, i, j) for d, i, j in distances)
    used_a: set[int] = set()
    used_b: set[int] = set()
    cost = 0.0
    for _, distance, i, j in pairs:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            cost += distance
    cost += sum(_token_cost(t) for i, t in enumerate(marked_a) if i not in used_a)
    cost += sum(_token_cost(t) for j, t in enumerate(marked_b) if j not in used_b)
    aligned = 1.0 - cost / max(sum(map(len, a)), sum(map(len, b)))
    return max(0.0, joined, aligned)


def _token_distance(x: str, y: str) -> int:
    if len(x) == 1 or len(y) == 1:  # an initial: "A. Rahman" stands for a name starting with A
        return 1 if x[0] == y[0] else max(len(x), len(y))
    return OSA.distance(x, y)


def plain(tokens: Sequence[str]) -> list[str]:
    """Tokens without the mark of a father's name."""
    return [t.lstrip("~") for t in tokens]


def distinctive(tokens: Sequence[str]) -> list[str]:
    """Tokens that tell people apart: not weak, not a father's name, not an initial."""
    return [t for t in tokens if t not in WEAK and t[0] != "~" and len(t) > 1]
