"""Reading RT spreadsheets: cells, headers, files and the plan of one batch, without a database."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from services.registry import import_files
from services.registry.import_files import FileRejected, open_sheet, parsed_sheet
from services.registry.import_plan import Batch, Known, batches, plan_batch
from services.registry.import_rows import (
    COLUMNS,
    KelurahanNames,
    MemberRow,
    Problem,
    RowParser,
    header_name,
    parse_date,
    parse_relation,
    parse_sex,
    parse_yes_no,
)

HEADER = list(COLUMNS[:-1])  # without the optional "tegaskan"
SITI = "6474014505900001"  # woman, 5 May 1990
BUDI = "6474010112850002"  # man, 1 December 1985
NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def row(**changes: Any) -> list[Any]:
    values: dict[str, Any] = {
        "no_kk": "6474010101200001",
        "kelurahan": "Lok Tuan",
        "rw": "3",
        "rt": "12",
        "alamat": "Jl. Pupuk Raya No. 7",
        "nama_kepala": "Siti Aminah",
        "nik": SITI,
        "nama": "Siti Aminah",
        "jenis_kelamin": "P",
        "tanggal_lahir": "1990-05-05",
        "hubungan": "kepala",
        "pekerjaan": "pedagang",
        "bekerja": "ya",
        "disabilitas": "",
        "hamil": "tidak",
    } | changes
    return [values[c] for c in HEADER]


def cells(values: list[Any]) -> tuple[object, ...]:
    return (*values, None)  # tegaskan is absent


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1990-05-05", date(1990, 5, 5)),
        ("05/05/1990", date(1990, 5, 5)),
        ("5-5-1990", date(1990, 5, 5)),
        ("29/02/2024", date(2024, 2, 29)),
        ("1990-05-05 00:00:00", date(1990, 5, 5)),
        (datetime(1990, 5, 5, 0, 0), date(1990, 5, 5)),
        (date(1990, 5, 5), date(1990, 5, 5)),
        (32998, date(1990, 5, 5)),  # an Excel serial day whose cell lost its date format
        ("29/02/2023", None),
        ("31-04-1990", None),
        ("05/05/90", None),
        ("1990/05/05", None),
        ("kemarin", None),
        ("", None),
    ],
)
def test_birth_dates_in_the_formats_rts_use(text: object, expected: date | None) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("ya", True),
        ("Ya", True),
        ("Y", True),
        ("1", True),
        (1, True),
        (True, True),
        ("TRUE", True),
        ("tidak", False),
        ("t", False),
        ("0", False),
        (0.0, False),
        ("false", False),
        ("", False),
        (None, False),
        ("mungkin", None),
        ("2", None),
    ],
)
def test_yes_no_answers_and_empty_is_tidak(cell: object, expected: bool | None) -> None:
    assert parse_yes_no(cell) is expected


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("L", "L"), ("p", "P"), ("Laki-laki", "L"), ("laki laki", "L"), ("PEREMPUAN", "P")],
)
def test_sex_as_written(cell: str, expected: str) -> None:
    assert parse_sex(cell) == expected


def test_relation_accepts_spacing_and_the_kk_wording() -> None:
    assert parse_relation("Orang Tua") == "orang_tua"
    assert parse_relation("Kepala Keluarga") == "kepala"
    assert parse_relation("ANAK") == "anak"
    assert parse_relation("tetangga") == "tetangga"  # left for the schema to reject


@pytest.mark.parametrize(
    "written",
    ["Lok Tuan", "lok tuan", "LOKTUAN", "  Lok   Tuan ", "64.74.01.1003", "6474011003"],
)
def test_kelurahan_by_name_or_code_ignoring_case_and_spacing(written: str) -> None:
    assert KelurahanNames().code(written) == "64.74.01.1003"


def test_api_api_and_tanjung_laut_indah_are_told_apart() -> None:
    names = KelurahanNames()
    assert names.code("api api") == "64.74.01.1006"
    assert names.code("Tanjung Laut") == "64.74.02.1001"
    assert names.code("tanjung laut indah") == "64.74.02.1006"
    assert names.code("Kota Baru") == "Kota Baru"


def test_header_names_ignore_case_spaces_and_punctuation() -> None:
    assert header_name("No. KK") == "no_kk"
    assert header_name(" Tanggal Lahir ") == "tanggal_lahir"
    assert header_name("NAMA_KEPALA") == "nama_kepala"


def test_a_good_row_becomes_the_api_commands() -> None:
    parsed = RowParser().parse(2, cells(row()))
    assert isinstance(parsed, MemberRow)
    assert parsed.household.kelurahan_code == "64.74.01.1003"
    assert (parsed.household.rw, parsed.household.rt) == (3, 12)
    assert parsed.member.birth_date == date(1990, 5, 5)
    assert parsed.member.working is True
    assert parsed.member.pregnant is False


def test_every_bad_cell_of_a_row_is_named() -> None:
    parsed = RowParser().parse(
        7,
        cells(
            row(
                kelurahan="Kota Baru",
                rw="tiga",
                nama="S",
                jenis_kelamin="X",
                tanggal_lahir="31/02/1990",
                hubungan="tetangga",
                hamil="mungkin",
            )
        ),
    )
    assert isinstance(parsed, list)
    by_column = {p.column: p for p in parsed}
    assert set(by_column) == {
        "kelurahan",
        "rw",
        "nama",
        "jenis_kelamin",
        "tanggal_lahir",
        "hubungan",
        "hamil",
    }
    assert by_column["kelurahan"].pesan == "kelurahan 'Kota Baru' tidak ada di Kota Bontang"
    assert by_column["kelurahan"].message == "not a kelurahan of Kota Bontang"
    assert by_column["nama"].pesan == "minimal 2 karakter"
    assert by_column["tanggal_lahir"].rule == "date_format"
    assert by_column["hubungan"].pesan.startswith("harus salah satu dari")


def test_a_missing_required_cell_is_wajib_diisi() -> None:
    parsed = RowParser().parse(3, cells(row(nama="", no_kk=None)))
    assert isinstance(parsed, list)
    assert {(p.column, p.pesan) for p in parsed} == {
        ("nama", "wajib diisi"),
        ("no_kk", "wajib diisi"),
    }


def csv_file(lines: list[list[Any]], delimiter: str = ",", header: list[str] = HEADER) -> bytes:
    text = "\n".join(delimiter.join(str(v) for v in line) for line in [header, *lines])
    return text.encode()


def test_a_semicolon_csv_with_headers_in_any_case_and_order() -> None:
    header = [
        "NIK",
        "Nama",
        "No KK",
        *[h.upper() for h in HEADER if h not in ("nik", "nama", "no_kk")],
    ]
    values = dict(zip(HEADER, row(), strict=True))
    line = [values["nik"], values["nama"], values["no_kk"]]
    line += [values[h] for h in HEADER if h not in ("nik", "nama", "no_kk")]
    data = csv_file([line], ";", [*header, "Catatan"])
    with open_sheet(io.BytesIO(data), "rt.csv") as sheet:
        rows = list(sheet.rows)
        assert sheet.ignored_columns == ["catatan"]
    assert rows == [(2, cells(row()))]


def test_a_missing_column_rejects_the_whole_file() -> None:
    data = csv_file([], header=[h for h in HEADER if h != "tanggal_lahir"])
    with pytest.raises(FileRejected) as rejected, open_sheet(io.BytesIO(data), "rt.csv"):
        pass
    assert rejected.value.pesan == "kolom wajib tidak ada: tanggal_lahir"


def test_an_old_xls_file_is_refused_with_advice() -> None:
    old = io.BytesIO(b"\xd0\xcf\x11\xe0" + bytes(100))
    with pytest.raises(FileRejected, match=r"simpan sebagai \.xlsx"), open_sheet(old, "rt.xls"):
        pass


def xlsx_file(path: Path, lines: list[list[Any]], title_rows: int = 0) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    for _ in range(title_rows):
        sheet.append(["DATA KELUARGA RT 12"])
    sheet.append([h.replace("_", " ").title() for h in HEADER])
    for line in lines:
        sheet.append(line)
    book.save(path)
    return path


def test_an_xlsx_with_a_title_row_date_cells_and_numeric_nik(tmp_path: Path) -> None:
    line = row(nik=int(SITI), no_kk=int("6474010101200001"), rw=3, rt=12)
    line[HEADER.index("tanggal_lahir")] = datetime(1990, 5, 5)
    path = xlsx_file(tmp_path / "rt.xlsx", [line, [None] * len(HEADER), line], title_rows=1)
    with parsed_sheet(path, "rt.xlsx") as sheet:
        rows = list(sheet.rows)
    # Rows are numbered as the sheet shows them: title 1, header 2, blank row 4 skipped.
    assert [number for number, _ in rows] == [3, 5]
    parsed = rows[0][1]
    assert isinstance(parsed, MemberRow)
    assert parsed.member.nik == SITI
    assert parsed.household.no_kk == "6474010101200001"
    assert parsed.member.birth_date == date(1990, 5, 5)


def test_a_big_file_is_parsed_by_a_worker_process_with_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "rt.csv"
    path.write_bytes(csv_file([row(), row(jenis_kelamin="X")]))
    with parsed_sheet(path, "rt.csv") as here:
        expected = list(here.rows)
    monkeypatch.setattr(import_files, "WORKER_MIN_BYTES", 0)
    with parsed_sheet(path, "rt.csv") as worker:
        assert list(worker.rows) == expected
    path.write_bytes(csv_file([], header=["nama"]))
    with pytest.raises(FileRejected, match="kolom wajib tidak ada"), parsed_sheet(path, "rt.csv"):
        pass


def plan_of(*lines: list[Any], known: Known | None = None) -> Any:
    parser = RowParser()
    parsed = [(n, parser.parse(n, cells(line))) for n, line in enumerate(lines, start=2)]
    (batch,) = list(batches(iter(parsed)))
    return plan_batch(batch, known or Known(), NOW)


def test_a_kk_becomes_one_household_with_its_members_and_events() -> None:
    budi = row(nik=BUDI, nama="Budi", jenis_kelamin="L", tanggal_lahir="01/12/1985")
    plan = plan_of(row(), budi)
    assert len(plan.new_households) == 1
    assert [m.name for m in plan.members] == ["Siti Aminah", "Budi"]
    assert [type(e).__name__ for e in plan.events] == [
        "HouseholdRegistered",
        "MemberAdded",
        "MemberAdded",
    ]
    assert plan.new_households[0].version == 3  # as after register + two add_member calls


def test_rows_that_disagree_on_the_household_or_repeat_a_member_are_rejected() -> None:
    plan = plan_of(
        row(),
        row(nik=BUDI, nama="Budi", jenis_kelamin="L", alamat="Jl. Lain"),
        row(),
        row(nik="", nama="Ani", tanggal_lahir="2020-01-01", hubungan="anak"),
        row(nik="6474014505900002", nama="Rina", jenis_kelamin="L", tanggal_lahir="1990-05-05"),
    )
    assert [m.name for m in plan.members] == ["Siti Aminah", "Ani"]
    assert [(r.row, r.column, r.rule) for r in plan.rejections] == [
        (3, "alamat", "household_mismatch"),
        (4, "nik", "duplicate_row"),
        (6, "nik", "nik_sex"),
    ]
    assert plan.rejected_rows == 3


def test_a_kk_whose_rows_are_all_rejected_is_not_registered() -> None:
    plan = plan_of(row(tanggal_lahir="2099-01-01"))
    assert plan.new_households == []
    assert [(r.column, r.rule) for r in plan.rejections] == [("tanggal_lahir", "future_date")]


def test_problems_are_bilingual() -> None:
    parsed = RowParser().parse(2, cells(row(bekerja="kadang")))
    assert parsed == [
        Problem(
            "bekerja",
            "yes_no",
            "harus ya atau tidak (y/t, 1/0, kosong = tidak)",
            "must be yes or no (ya/tidak, y/t, 1/0, empty = no)",
        )
    ]


def test_parse_failures_count_as_rejected_rows_in_their_batch() -> None:
    parser = RowParser()
    parsed = [(2, parser.parse(2, cells(row(rt="0"))))]
    (batch,) = list(batches(iter(parsed)))
    assert isinstance(batch, Batch)
    assert (batch.rows, batch.rejected_rows, batch.groups) == (1, 1, {})
    assert batch.rejections[0].column == "rt"
    assert batch.rejections[0].pesan == "minimal 1"
