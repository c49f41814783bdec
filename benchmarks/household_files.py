"""RT spreadsheets for the import benchmark: the demo data, written the ways RTs write it.

The households, members and NIKs are `services.registry.demo`'s (`demo.to_rows`); this module
only varies how the cells are written, so that an import also exercises the importer's parsing
(`services.registry.import_rows`): the kelurahan as its name (60 %; a tenth of all in capitals)
or as its Kemendagri code (with dots 30 %, without 10 %), and the birth date as a date cell
(XLSX; every tenth row typed as DD/MM/YYYY text) or as YYYY-MM-DD, DD/MM/YYYY or DD-MM-YYYY text
(CSV, in turn). RW and RT are number cells in XLSX; NIK and No. KK are always text.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Literal

from services.registry import demo
from services.registry.areas import areas

Kind = Literal["csv", "xlsx"]
_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y")


def kelurahan_as_written(code: str, household: int) -> str:
    """The kelurahan cell of the `household`-th household (0-based)."""
    style = household % 10
    if style < 6:
        name = areas()[code].name
        return name.upper() if style == 5 else name
    return code.replace(".", "") if style == 9 else code


def rows(data: demo.DemoData, kind: Kind) -> Iterator[list[demo.Cell]]:
    """`demo.to_rows` in `demo.IMPORT_HEADERS` order, cells written as described above."""
    household, last_kk = -1, None
    for number, row in enumerate(demo.to_rows(data)):
        if row["no_kk"] != last_kk:
            household, last_kk = household + 1, row["no_kk"]
        cells: list[demo.Cell] = [row[header] for header in demo.IMPORT_HEADERS]
        cells[1] = kelurahan_as_written(row["kelurahan"], household)
        born = date.fromisoformat(row["tanggal_lahir"])
        if kind == "xlsx":
            cells[2], cells[3] = int(row["rw"]), int(row["rt"])
            cells[9] = born.strftime("%d/%m/%Y") if number % 10 == 9 else born
        else:
            cells[9] = born.strftime(_DATE_FORMATS[number % 3])
        yield cells


def write_csv(data: demo.DemoData, path: Path) -> int:
    """The CSV an RT exports (UTF-8, comma separated); returns the member rows."""
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(demo.IMPORT_HEADERS)
        writer.writerows(rows(data, "csv"))
    return data.member_count


def write_xlsx(data: demo.DemoData, path: Path) -> int:
    """The workbook an RT keeps, written by `demo.write_xlsx_rows`; returns the member rows."""
    return demo.write_xlsx_rows(path, rows(data, "xlsx"))
