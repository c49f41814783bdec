"""NIK rules without I/O: what a NIK says, and which rule a bad one breaks."""

from __future__ import annotations

from datetime import date

import pytest

from services.registry.nik import NikError, compare_with_member, parse_nik

# A fixed "today" so that century resolution does not drift with the calendar.
TODAY = date(2025, 6, 1)


def broken_rule(value: str) -> NikError:
    with pytest.raises(NikError) as caught:
        parse_nik(value, today=TODAY)
    return caught.value


def test_a_man_registered_in_bontang_utara_is_valid() -> None:
    nik = parse_nik("6474011505850001", today=TODAY)

    assert nik.value == "6474011505850001"
    assert nik.birth_date == date(1985, 5, 15)
    assert nik.sex == "L"
    assert nik.serial == 1
    assert (nik.province_code, nik.regency_code, nik.district_code) == ("64", "74", "01")


def test_a_woman_has_forty_added_to_her_birth_day() -> None:
    nik = parse_nik("6474025505850002", today=TODAY)

    assert nik.birth_date == date(1985, 5, 15)
    assert nik.sex == "P"


def test_a_woman_born_on_the_31st_has_day_71_and_is_valid() -> None:
    nik = parse_nik("6474037101850003", today=TODAY)

    assert nik.birth_date == date(1985, 1, 31)
    assert nik.sex == "P"


def test_day_72_is_no_birth_day() -> None:
    assert broken_rule("6474037201850003").rule == "date"


@pytest.mark.parametrize("day", ["00", "32", "40", "99"])
def test_days_outside_both_ranges_break_the_date_rule(day: str) -> None:
    assert broken_rule(f"647401{day}05850001").rule == "date"


def test_month_13_breaks_the_date_rule() -> None:
    assert broken_rule("6474011513850001").rule == "date"


@pytest.mark.parametrize(
    ("value", "born"),
    [("6474012902000001", date(2000, 2, 29)), ("6474016902880001", date(1988, 2, 29))],
)
def test_29_february_is_valid_in_a_leap_year(value: str, born: date) -> None:
    assert parse_nik(value, today=TODAY).birth_date == born


@pytest.mark.parametrize("value", ["6474012902010001", "6474012902850001"])
def test_29_february_is_invalid_in_a_non_leap_year(value: str) -> None:
    assert broken_rule(value).rule == "date"


def test_31_april_is_invalid() -> None:
    error = broken_rule("6474013104850001")

    assert error.rule == "date"
    assert error.pesan == "Tanggal lahir pada NIK tidak ada di kalender"


def test_an_unknown_kecamatan_code_breaks_the_region_rule() -> None:
    error = broken_rule("6474041505850001")

    assert error.rule == "region"
    assert "647404" in error.pesan


def test_an_unknown_province_breaks_the_region_rule() -> None:
    assert broken_rule("9999011505850001").rule == "region"


@pytest.mark.parametrize("value", ["647401150585000", "64740115058500011"])
def test_fifteen_or_seventeen_digits_break_the_length_rule(value: str) -> None:
    error = broken_rule(value)

    assert error.rule == "length"
    assert error.pesan.startswith("NIK harus 16 digit")


def test_an_empty_nik_breaks_the_length_rule() -> None:
    assert broken_rule("   ").rule == "length"


def test_letters_break_the_digits_rule() -> None:
    error = broken_rule("64740115058500A1")

    assert error.rule == "digits"
    assert error.pesan == "NIK hanya boleh berisi angka 0-9"


def test_digits_from_other_scripts_break_the_digits_rule() -> None:
    assert broken_rule("647401١٥٠٥٨٥0001").rule == "digits"


@pytest.mark.parametrize("value", ["6474 0115 0585 0001", "647401150585\t0001"])
def test_spaces_inside_break_the_digits_rule_with_their_own_message(value: str) -> None:
    error = broken_rule(value)

    assert error.rule == "digits"
    assert error.pesan == "NIK tidak boleh berisi spasi"


def test_surrounding_whitespace_is_stripped() -> None:
    assert parse_nik(" 6474011505850001\n", today=TODAY).value == "6474011505850001"


def test_serial_0000_breaks_the_serial_rule() -> None:
    assert broken_rule("6474011505850000").rule == "serial"


def test_the_first_broken_rule_in_reading_order_is_reported() -> None:
    assert broken_rule("6474041513850000").rule == "region"
    assert broken_rule("6474011513850000").rule == "date"


def test_the_error_reads_indonesian_first_with_english_beside_it() -> None:
    error = broken_rule("6474011505850000")

    assert isinstance(error, ValueError)
    assert str(error) == f"{error.pesan} ({error.message})"
    assert str(error).startswith("Nomor urut NIK")


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("6474011505850001", "Bontang Utara, Kota Bontang, Kalimantan Timur"),
        ("6474021505850001", "Bontang Selatan, Kota Bontang, Kalimantan Timur"),
        ("6474031505850001", "Bontang Barat, Kota Bontang, Kalimantan Timur"),
    ],
)
def test_a_bontang_nik_names_its_kecamatan(value: str, name: str) -> None:
    assert parse_nik(value, today=TODAY).region_name == name


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("3171015505900123", "Gambir, Kota Jakarta Pusat, DKI Jakarta"),
        ("3273021708790042", "Coblong, Kota Bandung, Jawa Barat"),
        ("6471011505850001", "Balikpapan Timur, Kota Balikpapan, Kalimantan Timur"),
    ],
)
def test_a_resident_registered_outside_bontang_has_a_valid_nik(value: str, name: str) -> None:
    nik = parse_nik(value, today=TODAY)

    assert nik.region_name == name
    assert not nik.region_code.startswith("6474")


def test_a_two_digit_year_that_would_be_in_the_future_belongs_to_the_last_century() -> None:
    assert parse_nik("6474011505850001", today=TODAY).birth_date == date(1985, 5, 15)
    assert parse_nik("6474011505200001", today=TODAY).birth_date == date(2020, 5, 15)


def test_a_birthday_later_this_year_means_a_hundred_years_ago() -> None:
    assert parse_nik("6474011512250001", today=TODAY).birth_date == date(1925, 12, 15)
    assert parse_nik("6474010106250001", today=TODAY).birth_date == date(2025, 6, 1)


def test_the_nik_is_kept_out_of_the_repr() -> None:
    assert "6474011505850001" not in repr(parse_nik("6474011505850001", today=TODAY))


def test_a_member_whose_record_agrees_with_the_nik_has_no_mismatch() -> None:
    nik = parse_nik("6474025505850002", today=TODAY)

    assert compare_with_member(nik, sex="P", birth_date=date(1985, 5, 15)) == []


def test_a_nik_of_a_woman_for_a_member_recorded_as_a_man_is_a_sex_mismatch() -> None:
    nik = parse_nik("6474025505850002", today=TODAY)

    [mismatch] = compare_with_member(nik, sex="L", birth_date=date(1985, 5, 15))

    assert mismatch.rule == "sex"
    assert mismatch.pesan == "Jenis kelamin menurut NIK P, data anggota L"


def test_a_birth_date_that_differs_from_the_nik_is_a_birth_date_mismatch() -> None:
    nik = parse_nik("6474011505850001", today=TODAY)

    [mismatch] = compare_with_member(nik, sex="L", birth_date=date(1985, 5, 16))

    assert mismatch.rule == "birth_date"
    assert "15-05-85" in mismatch.pesan
    assert "16-05-1985" in mismatch.pesan


def test_both_mismatches_are_reported_together() -> None:
    nik = parse_nik("6474025505850002", today=TODAY)

    mismatches = compare_with_member(nik, sex="L", birth_date=date(1986, 5, 15))

    assert [mismatch.rule for mismatch in mismatches] == ["sex", "birth_date"]


def test_a_member_born_a_century_before_the_nik_reading_is_no_mismatch() -> None:
    nik = parse_nik("6474011505200001", today=TODAY)

    assert compare_with_member(nik, sex="L", birth_date=date(1920, 5, 15)) == []
