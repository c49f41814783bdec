"""The synthetic Bontang data: deterministic, valid for the registry's own rules, and shaped like
the city (every kelurahan, poverty and stunting in the stated ranges, planted duplicates)."""

from __future__ import annotations

import csv
import random
from collections import Counter, defaultdict
from datetime import date, datetime
from pathlib import Path

import pytest

from services.registry import demo, demo_names
from services.registry.areas import areas
from services.registry.assessment import score as score_answers
from services.registry.assessment import shipped_rulesets
from services.registry.growth import STANDING_FROM_DAY, assess_growth
from services.registry.import_files import parsed_sheet
from services.registry.import_rows import MemberRow
from services.registry.nik import compare_with_member, parse_nik, region_name

KELURAHAN = {a.code: a for a in areas().values() if a.level == "kelurahan"}
RELATIONS = {"kepala", "istri", "suami", "anak", "menantu", "cucu", "orang_tua", "lainnya"}


@pytest.fixture(scope="module")
def data() -> demo.DemoData:
    return demo.generate(households=5000, seed=11)


def _members(data: demo.DemoData) -> dict[str, tuple[demo.DemoHousehold, demo.DemoMember]]:
    return {m.id: (h, m) for h in data.households for m in h.members}


def _age(born: date, on: date) -> float:
    return (on - born).days / 365.25


def test_the_same_seed_gives_the_same_data_and_another_seed_other_data() -> None:
    first = demo.generate(households=300, seed=7)
    assert first == demo.generate(households=300, seed=7)
    assert first.households != demo.generate(households=300, seed=8).households
    assert demo.generate(households=0).households == ()


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        demo.generate(households=-1)
    with pytest.raises(ValueError):
        demo.generate(households=10, duplicate_rate=1.5)


def test_every_nik_parses_and_agrees_with_sex_and_birth_date(data: demo.DemoData) -> None:
    members = [m for h in data.households for m in h.members]
    with_nik = [m for m in members if m.nik]
    for member in with_nik:
        assert member.nik is not None
        parsed = parse_nik(member.nik, today=data.today)
        assert compare_with_member(parsed, sex=member.sex, birth_date=member.birth_date) == []
    assert len({m.nik for m in with_nik}) == len(with_nik), "NIKs are unique"
    without = 1 - len(with_nik) / len(members)
    assert 0.03 <= without <= 0.07  # about 5 %: mostly babies
    elsewhere = sum(not m.nik.startswith("6474") for m in with_nik if m.nik) / len(with_nik)
    assert 0.06 <= elsewhere <= 0.15  # about 10 % first registered outside Bontang
    bontang = {m.nik[:6] for m in with_nik if m.nik and m.nik.startswith("6474")}
    assert bontang == {"647401", "647402", "647403"}


def test_babies_are_the_members_without_nik(data: demo.DemoData) -> None:
    planted_copies = {copy for _, copy in data.planted}
    ages = [
        _age(m.birth_date, data.today)
        for h in data.households
        for m in h.members
        if m.nik is None and m.id not in planted_copies
    ]
    assert sum(age < 5 for age in ages) / len(ages) > 0.9


def test_every_region_code_for_people_born_elsewhere_is_a_known_kecamatan() -> None:
    for codes in demo_names.BORN_ELSEWHERE.values():
        for code in codes:
            assert region_name(code) is not None, code


def test_no_kk_is_unique_and_carries_the_kecamatan(data: demo.DemoData) -> None:
    numbers = [h.no_kk for h in data.households]
    assert len(set(numbers)) == len(numbers)
    for h in data.households:
        assert len(h.no_kk) == 16 and h.no_kk.isdigit()
        assert h.no_kk[:6] == "6474" + h.kelurahan_code.split(".")[2]
        issued = date(2000 + int(h.no_kk[10:12]), int(h.no_kk[8:10]), int(h.no_kk[6:8]))
        assert issued <= data.today


def test_all_fifteen_kelurahan_with_consistent_rw_and_rt(data: demo.DemoData) -> None:
    first = data.households[:2000]
    assert {h.kelurahan_code for h in first} == set(KELURAHAN)
    counts = Counter(h.kelurahan_code for h in data.households)
    priority = [n for code, n in counts.items() if KELURAHAN[code].priority]
    others = [n for code, n in counts.items() if not KELURAHAN[code].priority]
    assert min(priority) > sum(others) / len(others)
    rw_of: dict[tuple[str, int], set[int]] = defaultdict(set)
    for h in data.households:
        assert 1 <= h.rw <= 15 and 1 <= h.rt <= 40
        assert h.address.startswith("Jl. ") and " No. " in h.address
        rw_of[h.kelurahan_code, h.rt].add(h.rw)
    assert all(len(rws) == 1 for rws in rw_of.values()), "an RT belongs to one RW"


def test_households_and_members_look_like_families(data: demo.DemoData) -> None:
    sizes = [len(h.members) for h in data.households]
    assert min(sizes) >= 1 and max(sizes) <= 8
    assert 3.3 <= sum(sizes) / len(sizes) <= 3.9
    mothers_ages = []
    for h in data.households:
        assert h.head.relation == "kepala" and h.head.id == f"{h.key}-01"
        assert [m.relation for m in h.members].count("kepala") == 1
        assert {m.relation for m in h.members} <= RELATIONS
        mother = next((m for m in h.members if m.relation == "istri"), None)
        if h.head.sex == "P":
            mother = h.head
        if mother is not None:
            for child in h.members:
                if child.relation == "anak":
                    mothers_ages.append(_age(mother.birth_date, child.birth_date))
    assert min(mothers_ages) >= 17 and max(mothers_ages) <= 43
    members = [m for h in data.households for m in h.members]
    assert all(m.name.strip() and m.occupation for m in members)
    assert all(m.working == (m.occupation not in demo._IDLE) for m in members)
    assert all(m.sex == "P" for m in members if m.pregnant)
    women = [m for m in members if m.sex == "P" and 18 <= _age(m.birth_date, data.today) <= 40]
    assert 0.015 <= sum(m.pregnant for m in women) / len(women) <= 0.05
    assert 0.01 <= sum(m.disability for m in members) / len(members) <= 0.03


def test_planted_duplicates_are_in_another_household_of_the_same_kelurahan(
    data: demo.DemoData,
) -> None:
    members = _members(data)
    assert len(data.planted) >= 0.9 * round(5000 * 0.02)
    for original_id, copy_id in data.planted:
        home, original = members[original_id]
        other, copy = members[copy_id]
        assert other.key != home.key
        assert other.kelurahan_code == home.kelurahan_code
        assert copy.nik is None
        assert copy.sex == original.sex
        changed_name = copy.name.casefold() != original.name.casefold()
        assert changed_name or copy.birth_date != original.birth_date
        if copy.birth_date != original.birth_date:  # day and month swapped
            swapped = original.birth_date
            assert copy.birth_date == date(swapped.year, swapped.day, swapped.month)
    assert len({copy for _, copy in data.planted}) == len(data.planted)


def test_people_have_the_stable_ids_a_matcher_is_scored_with(data: demo.DemoData) -> None:
    people = list(data.people())
    ids = {p.member_id for p in people}
    assert len(ids) == len(people) == data.member_count
    assert {i for pair in data.planted_pairs() for i in pair} <= ids
    assert all(left < right for left, right in data.planted_pairs())
    households = {h.key: h for h in data.households}
    person = people[0]
    household = households[person.household_id]
    assert (person.kelurahan_code, person.rw, person.rt, person.address) == (
        household.kelurahan_code,
        household.rw,
        household.rt,
        household.address,
    )
    without = list(data.people(without_nik_only=True))
    copies = {copy for _, copy in data.planted}
    assert copies <= {p.member_id for p in without} < ids


def test_answers_score_with_the_city_ruleset_in_the_stated_ranges(data: demo.DemoData) -> None:
    ruleset = shipped_rulesets()[demo.CITY_RULESET]
    assert set(demo.CRITERIA_WEIGHTS) == {q.id for q in ruleset.questions}
    statuses = [score_answers(ruleset, h.answers).status for h in data.households]
    share = {status: n / len(statuses) for status, n in Counter(statuses).items()}
    assert 0.05 <= share["miskin_ekstrem"] <= 0.08
    assert 0.17 <= share["miskin"] <= 0.24
    assert 0.21 <= share["rentan"] <= 0.29
    priority = [
        s
        for h, s in zip(data.households, statuses, strict=True)
        if KELURAHAN[h.kelurahan_code].priority
    ]
    assert priority.count("miskin_ekstrem") / len(priority) > share["miskin_ekstrem"]


def test_status_mix_counts_match_the_ruleset_thresholds() -> None:
    ruleset = shipped_rulesets()[demo.CITY_RULESET]
    ids = list(demo.CRITERIA_WEIGHTS)
    for status, _, _, counts in demo.STATUS_MIX:
        for count in counts:
            answers = {criterion: i < count for i, criterion in enumerate(ids)}
            assert score_answers(ruleset, answers).status == status


def test_answers_agree_with_the_members(data: demo.DemoData) -> None:
    for h in data.households:
        if h.answers["anak_usia_sekolah_tidak_sekolah"]:
            out = [
                m
                for m in h.members[1:]
                if 7 <= _age(m.birth_date, data.today) < 19 and m.occupation != "Pelajar/Mahasiswa"
            ]
            assert out, h.key


def test_under_fives_have_posyandu_measurements(data: demo.DemoData) -> None:
    members = _members(data)
    measured: dict[str, list[demo.DemoMeasurement]] = defaultdict(list)
    for h in data.households:
        for measurement in h.measurements:
            measured[measurement.member_id].append(measurement)
            assert members[measurement.member_id][0] is h
    planted = {copy for _, copy in data.planted}
    under_five = {
        m.id
        for h in data.households
        for m in h.members
        if (data.today - m.birth_date).days < 1826 and m.id not in planted
    }
    assert set(measured) == under_five
    stunted = 0
    for member_id, visits in measured.items():
        child = members[member_id][1]
        assert 1 <= len(visits) <= 2
        for visit in visits:
            assert 0 <= (data.today - visit.measured_on).days <= 182
            age = (visit.measured_on - child.birth_date).days
            assert visit.position == ("lying" if age < STANDING_FROM_DAY else "standing")
        latest = max(visits, key=lambda v: v.measured_on)
        result = assess_growth(
            sex=child.sex,
            birth_date=child.birth_date,
            measured_on=latest.measured_on,
            length_height_cm=latest.length_height_cm,
            position=latest.position,
            weight_kg=latest.weight_kg,
        )
        assert not result.implausible and not result.outside_standard
        stunted += result.stunted
    assert 0.17 <= stunted / len(measured) <= 0.28  # Bontang reports roughly a fifth


def test_csv_round_trip_keeps_the_exact_headers_and_values(tmp_path: Path) -> None:
    data = demo.generate(households=200, seed=3)
    path = tmp_path / "demo.csv"
    assert demo.write_csv(data, path) == data.member_count
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        rows = list(reader)
        assert tuple(reader.fieldnames or ()) == demo.IMPORT_HEADERS
    assert rows == list(demo.to_rows(data))
    assert (
        *("no_kk", "kelurahan", "rw", "rt", "alamat", "nama_kepala", "nik", "nama"),
        *("jenis_kelamin", "tanggal_lahir", "hubungan", "pekerjaan", "bekerja", "disabilitas"),
        "hamil",
    ) == demo.IMPORT_HEADERS
    head = data.households[0].head
    first = rows[0]
    assert first["nik"] == (head.nik or "") and first["nama"] == first["nama_kepala"] == head.name
    assert first["tanggal_lahir"] == head.birth_date.isoformat()
    for row in rows:
        assert row["kelurahan"] in KELURAHAN
        assert row["jenis_kelamin"] in ("L", "P")
        assert row["hubungan"] in RELATIONS
        assert {row["bekerja"], row["disabilitas"], row["hamil"]} <= {"ya", "tidak"}
        assert row["nik"] == "" or len(row["nik"]) == 16
        date.fromisoformat(row["tanggal_lahir"])


def test_xlsx_has_the_headers_and_one_row_per_member(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    data = demo.generate(households=40, seed=5)
    path = tmp_path / "demo.xlsx"
    assert demo.write_xlsx(data, path) == data.member_count
    workbook = openpyxl.load_workbook(path, read_only=True)
    rows = [tuple(row) for row in workbook.active.iter_rows(values_only=True)]
    workbook.close()
    assert rows[0] == demo.IMPORT_HEADERS
    expected = [tuple(row[h] for h in demo.IMPORT_HEADERS) for row in demo.to_rows(data)]
    assert [tuple(cell or "" for cell in row) for row in rows[1:]] == expected


def test_xlsx_rows_writes_text_numbers_dates_and_a_dimension(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    path = tmp_path / "cells.xlsx"
    rows = [
        ["6474010101010001", 3, date(1990, 5, 17), " padded & <b> ", None, True, 2.5],
        ["", 0, datetime(2020, 2, 29, 13, 30), "Api-Api", "x", False, -1],
    ]
    headers = ("nik", "rt", "tanggal_lahir", "alamat", "kosong", "ya", "angka")
    assert demo.write_xlsx_rows(path, rows, headers=headers, sheet="RT 12") == 2
    workbook = openpyxl.load_workbook(path, read_only=True)
    sheet = workbook["RT 12"]
    assert sheet.calculate_dimension() == "A1:G3"
    read = [tuple(row) for row in sheet.iter_rows(values_only=True)]
    workbook.close()
    assert read == [
        headers,
        ("6474010101010001", 3, datetime(1990, 5, 17), " padded & <b> ", None, True, 2.5),
        (None, 0, datetime(2020, 2, 29), "Api-Api", "x", False, -1),
    ]
    with pytest.raises(ValueError, match="text"):
        demo.write_xlsx_rows(path, [[6474010101010001]], headers=("nik",))
    with pytest.raises(ValueError):
        demo.write_xlsx_rows(path, [["a", "b"]], headers=("nik",))  # a row wider than the header


@pytest.mark.parametrize("suffix", ["xlsx", "csv"])
def test_the_importer_reads_every_written_row_as_written(tmp_path: Path, suffix: str) -> None:
    data = demo.generate(households=60, seed=9)
    path = tmp_path / f"demo.{suffix}"
    written = demo.write_xlsx(data, path) if suffix == "xlsx" else demo.write_csv(data, path)
    with parsed_sheet(path, path.name) as sheet:
        parsed = [row for _, row in sheet.rows]
    assert len(parsed) == written == data.member_count
    members = [(h, m) for h in data.households for m in h.members]
    for row, (household, member) in zip(parsed, members, strict=True):
        assert isinstance(row, MemberRow), row
        assert (row.household.no_kk, row.household.kelurahan_code, row.household.rt) == (
            household.no_kk,
            household.kelurahan_code,
            household.rt,
        )
        assert (row.member.nik, row.member.name, row.member.birth_date) == (
            member.nik,
            member.name,
            member.birth_date,
        )


@pytest.mark.parametrize(
    ("name", "kind", "expected"),
    [
        ("H. Baharuddin", "title", "Baharuddin"),
        ("Sumarno Mulyono, S.E.", "title", "Sumarno Mulyono"),
        ("Muhammad Rizki Pratama", "order", "Rizki Pratama Muhammad"),
    ],
)
def test_misspellings(name: str, kind: demo_names.Slip, expected: str) -> None:
    assert demo_names.misspell(random.Random(1), name, kinds=(kind,)) == expected


def test_muhammad_is_abbreviated_and_a_letter_slip_changes_one_word() -> None:
    rng = random.Random(2)
    short = demo_names.misspell(rng, "Muhammad Rizki", kinds=("muhammad",))
    assert short.split()[0] in ("M.", "Muh.", "Moh.") and short.endswith(" Rizki")
    for _ in range(50):
        slipped = demo_names.misspell(rng, "Nurhayati Lestari", kinds=("edit",))
        assert slipped != "Nurhayati Lestari"
        words = slipped.split()
        assert len(words) == 2 and (words[0] == "Nurhayati") != (words[1] == "Lestari")
        assert slipped[0] == "N"
