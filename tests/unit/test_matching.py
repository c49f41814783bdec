"""Probable duplicates among members without a NIK: names, dates, places and their reasons."""

from __future__ import annotations

import random
import re
from dataclasses import replace
from datetime import date

import pytest

from services.registry.matching import (
    DEFAULT_THRESHOLD,
    Candidate,
    Person,
    candidate_pairs,
    date_relation,
)
from services.registry.names import name_similarity, name_tokens

LOK_TUAN = "64.74.01.1003"
API_API = "64.74.01.1006"


def person(
    member_id: str,
    name: str,
    born: date | None = date(1985, 3, 12),
    *,
    household: str | None = None,
    sex: str = "P",
    kelurahan: str = LOK_TUAN,
    rw: int = 2,
    rt: int = 5,
    address: str = "Jl. Pupuk Raya No. 12",
) -> Person:
    return Person(
        member_id=member_id,
        household_id=household or f"KK-{member_id}",
        name=name,
        birth_date=born,
        sex="L" if sex == "L" else "P",
        kelurahan_code=kelurahan,
        rw=rw,
        rt=rt,
        address=address,
    )


def crowd(size: int, seed: int = 3) -> list[Person]:
    """Strangers around the pair under test, so that blocking has real work to do."""
    rng = random.Random(seed)
    given = str.split("Agus Budi Rahmat Hasan Ilham Fajar Rudi Hendra Joko Slamet Yusuf Irfan")
    family = str.split("Saputra Pratama Hidayat Setiawan Kurniawan Santoso Nugroho Wibowo")
    return [
        person(
            f"X{n:05d}",
            f"{rng.choice(given)} {rng.choice(family)}",
            date(rng.randint(1950, 2020), rng.randint(1, 12), rng.randint(1, 28)),
            sex="L",
            kelurahan=rng.choice([LOK_TUAN, API_API]),
            rw=rng.randint(1, 10),
            rt=rng.randint(1, 8),
            address=f"Jl. Kakap No. {rng.randint(1, 150)}",
        )
        for n in range(size)
    ]


def pair_of(
    people: list[Person], left: str, right: str, threshold: float = DEFAULT_THRESHOLD
) -> Candidate | None:
    found = {(c.left, c.right): c for c in candidate_pairs(people, threshold=threshold)}
    return found.get((min(left, right), max(left, right)))


def test_a_typo_in_the_name_is_still_a_probable_duplicate() -> None:
    found = pair_of([person("a", "Siti Aminah"), person("b", "Siti Aminha")], "a", "b")
    assert found is not None
    assert found.score > 0.9
    assert found.reasons[0].startswith("nama beda satu huruf")


def test_swapped_name_order_is_the_same_name() -> None:
    found = pair_of([person("a", "Siti Aminah"), person("b", "Aminah Siti")], "a", "b")
    assert found is not None
    assert "nama sama, urutan kata berbeda" in found.reasons


@pytest.mark.parametrize(
    ("written", "other"),
    [
        ("Hj. Siti Aminah, S.Pd", "St. Aminah"),
        ("M. Rizky Pratama", "Muhammad Rizki Pratama"),
        ("Moh. Noor Hidayat", "Muhamad Nur Hidayat"),
        ("Mochammad Yusuf", "Muh. Yusuf"),
        ("Bpk Slamet Riyadi", "SLAMET  RIYADI"),
        ("Ibu Nur Hayati", "Noor-Hayati"),
        ("Drs. H. Achmad Fauzi, M.Si", "Ahmad Fauzy"),
        ("Chairul Anwar", "Khairul Anwar"),
        ("Soekarno", "Sukarno"),
        ("Fatimah Az-Zahra", "Fatima Azzahra"),
    ],
)
def test_titles_degrees_abbreviations_and_spellings_do_not_separate_a_name(
    written: str, other: str
) -> None:
    assert name_similarity(name_tokens(written), name_tokens(other)) == 1.0
    sex = "L" if "Siti" not in written and "Ibu" not in written else "P"
    found = pair_of([person("a", written, sex=sex), person("b", other, sex=sex)], "a", "b")
    assert found is not None


def test_a_name_is_reduced_to_its_tokens_without_titles_or_degrees() -> None:
    assert name_tokens("Hj. Siti Aminah, S.Pd") == ("siti", "amina")
    assert name_tokens("H.Ahmad") == ("ahmad",)
    assert name_tokens("Siti Aminah S.Pd.") == ("siti", "amina")
    assert name_tokens("Aminah, Siti") == ("amina", "siti")


def test_a_fathers_name_after_bin_may_be_left_out() -> None:
    assert name_similarity(name_tokens("Ahmad bin Saleh"), name_tokens("Ahmad Saleh")) == 1.0
    assert name_similarity(name_tokens("Rudi Hartono bin Saleh"), name_tokens("Rudi Hartono")) > 0.9


def test_day_and_month_swapped_is_still_a_probable_duplicate() -> None:
    people = [
        person("a", "Siti Aminah", date(1990, 3, 5)),
        person("b", "Siti Aminah", date(1990, 5, 3)),
    ]
    found = pair_of(people, "a", "b")
    assert found is not None
    assert "tanggal lahir: hari dan bulan tertukar" in found.reasons


def test_different_sex_never_matches() -> None:
    people = [person("a", "Nur Rahmat", sex="L"), person("b", "Nur Rahmat", sex="P")]
    assert candidate_pairs(people, threshold=0.0) == []


def test_the_same_name_born_in_a_different_year_does_not_match() -> None:
    people = [
        person("a", "Siti Aminah", date(1980, 5, 12)),
        person("b", "Siti Aminah", date(1992, 5, 12)),
    ]
    assert pair_of(people, "a", "b") is None


def test_twins_in_one_household_are_never_candidates() -> None:
    born = date(2015, 8, 17)
    people = [
        person("a", "Muhammad Rizki Saputra", born, household="KK1", sex="L"),
        person("b", "Muhammad Rizal Saputra", born, household="KK1", sex="L"),
    ]
    assert candidate_pairs(people, threshold=0.0) == []


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Muhammad Hasan Saputra", "Muhammad Husain Saputra"),
        ("Muhammad Rizki Saputra", "Muhammad Fauzan Saputra"),
        ("M. Rizki Saputra", "Muhammad Rizal Saputra"),
        ("Siti Aisyah", "Siti Aminah"),
    ],
)
def test_twins_on_two_family_cards_in_one_house_are_not_probable_duplicates(
    first: str, second: str
) -> None:
    sex = "P" if first.startswith("Siti") else "L"
    born = date(1995, 8, 17)
    people = [
        person("a", first, born, household="KK1", sex=sex),
        person("b", second, born, household="KK2", sex=sex),
    ]
    assert pair_of(people, "a", "b") is None


def test_a_member_typed_twice_into_one_household_is_a_candidate() -> None:
    people = [
        person("a", "Siti Aminah", household="KK1"),
        person("b", "SITI AMINAH", household="KK1"),
        person("c", "Siti Aminha", household="KK1"),  # a typo inside one household: not enough
    ]
    found = candidate_pairs(people)
    assert [(c.left, c.right) for c in found] == [("a", "b")]
    assert found[0].reasons[0] == "tercatat dua kali dalam satu KK"


def test_different_kelurahan_and_different_birth_date_does_not_match() -> None:
    people = [
        person("a", "Siti Aminah", date(1985, 3, 12), kelurahan=LOK_TUAN),
        person("b", "Siti Aminah", date(1987, 9, 30), kelurahan=API_API),
    ]
    assert candidate_pairs(people, threshold=0.0) == []


def test_someone_who_moved_kelurahan_is_found_by_name_and_birth_date() -> None:
    people = [
        person("a", "Siti Aminah Lestari", kelurahan=LOK_TUAN),
        person("b", "Hj. Siti Aminah Lestari", kelurahan=API_API, rw=7, rt=1, address="Jl. Kakap"),
    ]
    found = pair_of(people, "a", "b")
    assert found is not None
    assert "kelurahan berbeda" in found.reasons


@pytest.mark.parametrize(
    ("born", "typed", "reason"),
    [
        (date(1985, 3, 12), date(1985, 3, 17), "tanggal lahir beda satu angka"),
        (date(1985, 3, 12), date(1985, 8, 12), "tanggal lahir beda satu angka"),
        (date(1985, 3, 12), date(1985, 3, 21), "tanggal lahir: dua angka bertukar tempat"),
        (date(1985, 3, 12), date(1985, 12, 3), "tanggal lahir: hari dan bulan tertukar"),
        (date(1985, 3, 12), date(1986, 3, 12), "tahun lahir beda satu angka"),
    ],
)
def test_blocking_still_finds_a_pair_whose_birth_date_has_one_typo(
    born: date, typed: date, reason: str
) -> None:
    people = [
        *crowd(3000),
        person("a", "Rahmat Hidayat", born, sex="L", rt=4),
        person("b", "Rahmat Hidayat", typed, sex="L", rt=4),
    ]
    found = pair_of(people, "a", "b")
    assert found is not None
    assert reason in found.reasons


def test_a_member_without_a_birth_date_is_found_by_name_in_the_same_rt() -> None:
    found = pair_of([person("a", "Siti Aminah", None), person("b", "Siti Aminah")], "a", "b")
    assert found is not None
    assert "tanggal lahir tidak tercatat" in found.reasons


def test_a_common_name_is_weaker_evidence_than_a_rare_one() -> None:
    namesakes = [
        person(f"n{k}", "Agus Santoso", date(1950 + k, 1 + k % 12, 2), sex="L", rw=9)
        for k in range(40)
    ]
    common = [
        person("a", "Agus Santoso", sex="L", kelurahan=LOK_TUAN),
        person("b", "Agus Santoso", sex="L", kelurahan=API_API),
    ]
    rare = [replace(p, member_id=p.member_id + "2", name="Agus Sumarjono") for p in common]
    found = {
        (c.left, c.right): c for c in candidate_pairs(namesakes + common + rare, threshold=0.0)
    }
    assert found["a", "b"].score < found["a2", "b2"].score
    assert "nama umum: 42 orang bernama sama" in found["a", "b"].reasons


def test_a_birth_date_often_used_when_unknown_is_weaker_evidence() -> None:
    def score(born: date) -> Candidate:
        moved = person("b", "Sumarni", born, kelurahan=API_API, address="Jl. Kakap No. 3")
        return candidate_pairs([person("a", "Sumarni", born), moved], threshold=0.0)[0]

    placeholder, ordinary = score(date(1960, 1, 1)), score(date(1960, 4, 9))
    assert placeholder.score < ordinary.score
    assert any("sering dipakai bila tidak diketahui" in r for r in placeholder.reasons)


def test_candidates_are_ordered_pairs_with_scores_between_zero_and_one() -> None:
    people = [
        *crowd(500),
        person("z", "Siti Aminah"),
        person("b", "Siti Amina", rt=6),
        person("m", "St. Aminah", rw=3),
    ]
    found = candidate_pairs(people, threshold=0.0)
    assert found
    assert all(c.left < c.right and 0.0 <= c.score <= 1.0 for c in found)
    assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)


INDONESIAN_REASON = re.compile(
    r"^(nama (sama|mirip|beda|umum)|tanggal lahir|tahun lahir|RT sama|RW sama|kelurahan "
    r"(sama|berbeda)|alamat mirip|tercatat dua kali dalam satu KK|tetapi satu kata nama berbeda)"
)


def test_every_reason_is_written_in_indonesian_for_the_kelurahan_officer() -> None:
    people = [
        *crowd(2000),
        person("a", "Siti Aminah"),
        person("b", "Aminah Siti", date(1985, 12, 3), rt=6),
        person("c", "Siti Aminha", None, rw=4),
        person("d", "Hj. Siti Aminah", date(1985, 3, 21), kelurahan=API_API),
        person("e", "SITI AMINAH", household="KK-a"),
        person("f", "Siti Aisyah"),
    ]
    reasons = {r for c in candidate_pairs(people, threshold=0.0) for r in c.reasons}
    assert len(reasons) >= 8
    assert all(INDONESIAN_REASON.match(r) for r in reasons), reasons


@pytest.mark.parametrize(
    ("a", "b", "relation"),
    [
        (date(1990, 3, 5), date(1990, 3, 5), "sama"),
        (date(1990, 3, 5), date(1990, 5, 3), "tertukar"),
        (date(1990, 3, 5), date(1990, 3, 6), "satu_angka"),
        (date(1990, 3, 5), date(1991, 3, 5), "tahun"),
        (date(1990, 3, 12), date(1990, 3, 21), "angka_bertukar"),
        (date(1990, 3, 12), date(1909, 3, 12), "angka_bertukar"),
        (date(1990, 3, 5), None, "kosong"),
        (date(1990, 3, 5), date(1990, 4, 6), None),
        (date(1990, 3, 12), date(1990, 3, 23), None),
    ],
)
def test_birth_dates_agree_exactly_or_by_one_typo_or_not_at_all(
    a: date, b: date | None, relation: str | None
) -> None:
    assert date_relation(a, b) == relation
