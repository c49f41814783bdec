"""Reading the uploaded file: XLSX or CSV, in this process or, for big files, in a worker.

openpyxl needs ~55 µs of pure Python per 15-cell row; with the checks of `RowParser` that is
more than half of what a 180,000-row import costs. A worker process does that work on the
other core, while this process writes to the database, and sends the parsed rows over a
pipe in chunks (the pipe's buffer bounds the memory both sides hold).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import pickle
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

import openpyxl

from services.registry.import_rows import (
    COLUMNS,
    OPTIONAL,
    MemberRow,
    Problem,
    RowParser,
    header_name,
)

HEADER_SEARCH_ROWS: Final = 10  # title lines above the header are common in RT sheets
WORKER_MIN_BYTES: Final = 2_000_000  # below this (~15,000 rows) starting a process costs more
CHUNK_ROWS: Final = 2000

Parsed = tuple[int, MemberRow | list[Problem]]


class FileRejected(Exception):
    """The whole file cannot be read (format, missing columns); nothing was imported."""

    def __init__(self, pesan: str, message: str) -> None:
        super().__init__(f"{pesan} ({message})")
        self.pesan, self.message = pesan, message


@dataclass
class Sheet:
    """Rows of the first sheet that has our header: cells in `COLUMNS` order."""

    ignored_columns: list[str]
    rows: Iterator[tuple[int, tuple[object, ...]]]


@dataclass
class ParsedSheet:
    ignored_columns: list[str]
    rows: Iterator[Parsed]


@contextlib.contextmanager
def parsed_sheet(source: Path | IO[bytes], filename: str) -> Iterator[ParsedSheet]:
    """Every non-blank row as a `MemberRow` or its problems, with the row number.

    A big file on disk is read by a worker process; anything else here. `FileRejected` if the
    file cannot be read or lacks a required column.
    """
    if isinstance(source, Path) and source.stat().st_size >= WORKER_MIN_BYTES:
        with _worker(source, filename) as sheet:
            yield sheet
    elif isinstance(source, Path):
        with source.open("rb") as file, _here(file, filename) as sheet:
            yield sheet
    else:
        with _here(source, filename) as sheet:
            yield sheet


@contextlib.contextmanager
def _here(file: IO[bytes], filename: str) -> Iterator[ParsedSheet]:
    with open_sheet(file, filename) as sheet:
        parser = RowParser()
        rows = ((number, parser.parse(number, cells)) for number, cells in sheet.rows)
        yield ParsedSheet(sheet.ignored_columns, rows)


@contextlib.contextmanager
def _worker(path: Path, filename: str) -> Iterator[ParsedSheet]:
    # A fresh interpreter by `-m`, not multiprocessing: its spawn mode re-runs the parent's
    # main script in the child, and fork would copy this threaded process's locks.
    process = subprocess.Popen(
        [sys.executable, "-m", __name__, str(path), filename], stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    try:
        first = _receive(process.stdout)
        if first[0] == "rejected":
            raise FileRejected(first[1], first[2])
        yield ParsedSheet(list(first[1]), _rows_from(process.stdout))
    finally:
        process.stdout.close()
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=10)


def _receive(pipe: IO[bytes]) -> tuple[Any, ...]:
    try:
        message: tuple[Any, ...] = pickle.load(pipe)
    except EOFError:
        raise FileRejected(
            "pembaca berkas berhenti tiba-tiba", "the file reader stopped unexpectedly"
        ) from None
    if message[0] == "failed":
        raise RuntimeError(f"import reader failed: {message[1]}")
    return message


def _rows_from(pipe: IO[bytes]) -> Iterator[Parsed]:
    while True:
        message = _receive(pipe)
        if message[0] == "end":
            return
        yield from message[1]


def _work(path: Path, filename: str, pipe: IO[bytes]) -> None:
    """The worker process: parse and send chunks; failures are sent, not raised."""

    def send(*message: object) -> None:
        pickle.dump(message, pipe, protocol=pickle.HIGHEST_PROTOCOL)

    try:
        with path.open("rb") as file, _here(file, filename) as sheet:
            send("columns", sheet.ignored_columns)
            chunk: list[Parsed] = []
            for parsed in sheet.rows:
                chunk.append(parsed)
                if len(chunk) == CHUNK_ROWS:
                    send("rows", chunk)
                    chunk = []
            send("rows", chunk)
            send("end")
    except FileRejected as rejected:
        send("rejected", rejected.pesan, rejected.message)
    except Exception as error:
        send("failed", repr(error))
    pipe.flush()


@contextlib.contextmanager
def open_sheet(file: IO[bytes], filename: str) -> Iterator[Sheet]:
    """Read an XLSX (by its zip signature) or a CSV; `FileRejected` if neither works."""
    start = file.read(8)
    file.seek(0)
    if start.startswith(b"PK\x03\x04"):
        with _xlsx_rows(file) as rows:
            yield _sheet(rows)
    elif start.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileRejected(
            f"{filename}: format .xls lama tidak didukung; simpan sebagai .xlsx atau .csv",
            f"{filename}: the old .xls format is not supported; save as .xlsx or .csv",
        )
    else:
        with _csv_rows(file) as rows:
            yield _sheet(rows)


def _sheet(rows: Iterator[tuple[int, Sequence[object]]]) -> Sheet:
    for number, cells in rows:
        names = [header_name(c) for c in cells]
        if "no_kk" in names:
            break
        if number >= HEADER_SEARCH_ROWS:
            names = []
            break
    else:
        names = []
    missing = [c for c in COLUMNS if c not in OPTIONAL and c not in names]
    if missing:
        raise FileRejected(
            f"kolom wajib tidak ada: {', '.join(missing)}",
            f"required columns are missing: {', '.join(missing)}",
        )
    repeated = sorted({n for n in names if n in COLUMNS and names.count(n) > 1})
    if repeated:
        raise FileRejected(
            f"kolom ganda: {', '.join(repeated)}", f"repeated columns: {', '.join(repeated)}"
        )
    where = [names.index(c) if c in names else None for c in COLUMNS]
    ignored = [n for n in names if n and n not in COLUMNS]

    def cells_of() -> Iterator[tuple[int, tuple[object, ...]]]:
        for number, cells in rows:
            width = len(cells)
            picked = tuple(cells[i] if i is not None and i < width else None for i in where)
            if any(c is not None and c != "" for c in picked):  # blank rows carry nothing
                yield number, picked

    return Sheet(ignored_columns=ignored, rows=cells_of())


@contextlib.contextmanager
def _xlsx_rows(file: IO[bytes]) -> Iterator[Iterator[tuple[int, Sequence[object]]]]:
    try:
        # read_only streams the sheet XML; data_only gives a formula's last computed value.
        book = openpyxl.load_workbook(file, read_only=True, data_only=True)
    except Exception as error:
        raise FileRejected(
            "berkas XLSX tidak bisa dibaca", f"the XLSX file cannot be read: {error}"
        ) from None
    try:
        sheet = next(
            (
                ws
                for ws in book.worksheets
                if any(
                    "no_kk" in {header_name(c) for c in row}
                    for row in ws.iter_rows(max_row=HEADER_SEARCH_ROWS, values_only=True)
                )
            ),
            book.worksheets[0],
        )
        yield enumerate(sheet.iter_rows(values_only=True), start=1)
    finally:
        book.close()


@contextlib.contextmanager
def _csv_rows(file: IO[bytes]) -> Iterator[Iterator[tuple[int, Sequence[object]]]]:
    head = file.read(1 << 16)
    file.seek(0)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head)  # a cut-off last char is fine
        encoding = "utf-8-sig"
    except UnicodeDecodeError:
        encoding = "cp1252"  # what Excel on Windows writes for "CSV" without UTF-8
    first = head.decode(encoding, errors="replace").splitlines()[0] if head.strip() else ""
    # Indonesian Excel writes ";" (the comma is the decimal separator there).
    delimiter = max(",;\t", key=first.count)
    text = io.TextIOWrapper(file, encoding=encoding, errors="replace", newline="")
    try:
        yield enumerate(csv.reader(text, delimiter=delimiter), start=1)
    finally:
        text.detach()  # the caller owns the file


if __name__ == "__main__":
    # The worker: `python -m services.registry.import_files PATH FILENAME`, pickles on stdout.
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):  # the importer went away
        _work(Path(sys.argv[1]), sys.argv[2], sys.stdout.buffer)
