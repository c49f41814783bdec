"""Synthetic RT spreadsheets of Kota Bontang for the import benchmark (XLSX and CSV).

NIKs agree with sex and birth date (DD + 40 for women) and carry the kecamatan of the
household (647401-647403); NIK and No. KK are unique. Kelurahan are written as names or as
codes, birth dates as date cells in XLSX and in two text formats in CSV.
"""

from __future__ import annotations

import csv
import random
import zipfile
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from services.registry.areas import areas
from services.registry.import_rows import COLUMNS

TODAY = date(2026, 11, 28)
MEN = [
    "Ahmad",
    "Budi",
    "Rahmat",
    "Agus",
    "Hendra",
    "Joko",
    "Yusuf",
    "Rudi",
    "Andi",
    "Wahyu",
    "Fajar",
    "Dedi",
    "Arif",
    "Hasan",
]
WOMEN = [
    "Siti",
    "Aminah",
    "Dewi",
    "Sri",
    "Nur",
    "Rina",
    "Wati",
    "Ani",
    "Lestari",
    "Fitri",
    "Yuni",
    "Ratna",
    "Indah",
    "Sari",
]
FAMILY = [
    "Saputra",
    "Hidayat",
    "Wijaya",
    "Pratama",
    "Kurniawan",
    "Santoso",
    "Nugroho",
    "Halim",
    "Rahman",
    "Lubis",
]
JOBS = ("nelayan", "buruh", "pedagang", "karyawan swasta", "PNS", "ojek", "petani", "")
# Members per household: mean 3.6, so 50,000 households give ~180,000 rows.
SIZES = (1, 2, 3, 4, 5, 6, 7)
SIZE_WEIGHTS = (10, 16, 22, 24, 16, 8, 4)


class Generator:
    """Synthetic households of Kota Bontang; NIK and KK numbers are unique and well formed."""

    def __init__(self, seed: int = 2026) -> None:
        self.random = random.Random(seed)
        self.kelurahan = [a for a in areas().values() if a.level == "kelurahan"]
        self.serials: dict[str, int] = {}

    def _serial(self, prefix: str) -> str:
        self.serials[prefix] = self.serials.get(prefix, 0) + 1
        return f"{prefix}{self.serials[prefix]:04d}"

    def nik(self, region: str, sex: str, born: date) -> str:
        day = born.day + (40 if sex == "P" else 0)
        return self._serial(f"{region}{day:02d}{born.month:02d}{born.year % 100:02d}")

    def born(self, low: int, high: int) -> date:
        return TODAY - timedelta(days=self.random.randint(low * 365 + 1, high * 365))

    def households(self, count: int) -> Iterator[list[Any]]:
        """Rows in `COLUMNS` order; dates as `date` (the writers format them)."""
        r = self.random
        for n in range(count):
            area = r.choice(self.kelurahan)
            region = area.parent.replace(".", "")  # 64.74.01 → 647401
            kk = self._serial(
                f"{region}{r.randint(1, 28):02d}{r.randint(1, 12):02d}{r.randint(5, 25):02d}"
            )
            kelurahan = area.name if n % 10 < 7 else area.code
            head_sex = "L" if r.random() < 0.85 else "P"
            head = f"{r.choice(MEN if head_sex == 'L' else WOMEN)} {r.choice(FAMILY)}"
            household = [kk, kelurahan, r.randint(1, 20), r.randint(1, 40)]
            household += [f"Jl. {r.choice(FAMILY)} No. {r.randint(1, 200)}", head]
            size = r.choices(SIZES, SIZE_WEIGHTS)[0]
            for i in range(size):
                if i == 0:
                    sex, relation, name, born = head_sex, "kepala", head, self.born(25, 70)
                elif i == 1 and size > 2:
                    sex = "P" if head_sex == "L" else "L"
                    relation = "istri" if sex == "P" else "suami"
                    name, born = f"{r.choice(WOMEN if sex == 'P' else MEN)}", self.born(22, 65)
                else:
                    sex = r.choice("LP")
                    relation = "anak"
                    name, born = f"{r.choice(MEN if sex == 'L' else WOMEN)}", self.born(0, 24)
                adult = (TODAY - born).days > 18 * 365
                nik = self.nik(region, sex, born) if adult or r.random() < 0.9 else ""
                job = r.choice(JOBS) if adult else ""
                pregnant = sex == "P" and relation != "anak" and r.random() < 0.03
                yield [
                    *household,
                    nik,
                    f"{name} {r.choice(FAMILY)}" if i else name,
                    sex,
                    born,
                    relation,
                    job,
                    "ya" if job else "tidak",
                    "ya" if r.random() < 0.02 else "",
                    "ya" if pregnant else "tidak",
                    "",
                ]


def write_csv(path: Path, rows: Iterator[list[Any]]) -> int:
    count = 0
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        for row in rows:
            born: date = row[9]
            row[9] = born.isoformat() if count % 2 else born.strftime("%d/%m/%Y")
            writer.writerow(row)
            count += 1
    return count


_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def write_xlsx(path: Path, rows: Iterator[list[Any]], count: int) -> None:
    """An XLSX as Excel writes it: shared strings, a dimension, date cells with a date style."""
    strings: dict[str, int] = {}
    letters = [chr(ord("A") + i) for i in range(len(COLUMNS))]
    epoch = date(1899, 12, 30)

    def cells(number: int, values: list[Any]) -> str:
        out = [f'<row r="{number}">']
        for letter, value in zip(letters, values, strict=True):
            ref = f"{letter}{number}"
            if isinstance(value, date):
                out.append(f'<c r="{ref}" s="1"><v>{(value - epoch).days}</v></c>')
            elif isinstance(value, int):
                out.append(f'<c r="{ref}"><v>{value}</v></c>')
            elif value:
                index = strings.setdefault(value, len(strings))
                out.append(f'<c r="{ref}" t="s"><v>{index}</v></c>')
        out.append("</row>")
        return "".join(out)

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        with book.open("xl/worksheets/sheet1.xml", "w") as sheet:
            dimension = f"A1:{letters[-1]}{count + 1}"
            opening = f'<worksheet xmlns="{_MAIN}"><dimension ref="{dimension}"/><sheetData>'
            sheet.write(f"{_XML}{opening}".encode())
            sheet.write(cells(1, list(COLUMNS)).encode())
            for number, row in enumerate(rows, start=2):
                sheet.write(cells(number, row).encode())
            sheet.write(b"</sheetData></worksheet>")
        shared = "".join(f"<si><t>{escape(s)}</t></si>" for s in strings)
        book.writestr(
            "xl/sharedStrings.xml",
            f'{_XML}<sst xmlns="{_MAIN}" uniqueCount="{len(strings)}">{shared}</sst>',
        )
        book.writestr(
            "xl/styles.xml",
            f'{_XML}<styleSheet xmlns="{_MAIN}"><fonts count="1"><font><sz val="11"/>'
            '<name val="Calibri"/></font></fonts><fills count="1"><fill><patternFill '
            'patternType="none"/></fill></fills><borders count="1"><border/></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
            '</cellStyleXfs><cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" '
            'borderId="0" xfId="0"/><xf numFmtId="14" fontId="0" fillId="0" borderId="0" '
            'xfId="0" applyNumberFormat="1"/></cellXfs><cellStyles count="1"><cellStyle '
            'name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>',
        )
        book.writestr(
            "xl/workbook.xml",
            f'{_XML}<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets><sheet name="Anggota" '
            'sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        parts = (
            ("worksheet", "worksheets/sheet1.xml"),
            ("styles", "styles.xml"),
            ("sharedStrings", "sharedStrings.xml"),
        )
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="{_REL}/{kind}" Target="{target}"/>'
            for i, (kind, target) in enumerate(parts, start=1)
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
        overrides = (
            ("/xl/workbook.xml", "sheet.main+xml"),
            ("/xl/worksheets/sheet1.xml", "worksheet+xml"),
            ("/xl/styles.xml", "styles+xml"),
            ("/xl/sharedStrings.xml", "sharedStrings+xml"),
        )
        book.writestr(
            "[Content_Types].xml",
            f'{_XML}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            + "".join(f'<Override PartName="{p}" ContentType="{_CT}.{t}"/>' for p, t in overrides)
            + "</Types>",
        )
