"""The two ways into the bulk import: `POST /imports` (an upload) and `sinergi import FILE`."""

from __future__ import annotations

import asyncio
import csv
import gc
import io
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import IO, Annotated, Any
from uuid import UUID

from fastapi import APIRouter, File, HTTPException, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from services.registry import import_files, scope
from services.registry.api import PROBLEMS
from services.registry.import_files import FileRejected
from services.registry.imports import ImportSummary, import_file, load_report
from services.registry.models import tables
from sinergi.auth import CALLER, FIELD, Caller, Principal, allow
from sinergi.config import Settings
from sinergi.db import create_engine
from sinergi.errors import FieldProblem, ValidationProblem, answers
from sinergi.outbox import UnitOfWork
from sinergi.service import Runtime

INLINE_REJECTIONS = 100

_IMPORT_ID = "b6c0e93a-1f54-4d28-8e7b-5a2d3f9c1e47"
_REJECTIONS: list[dict[str, Any]] = [
    {
        "row": 9,
        "column": "nik",
        "rule": "nik_sex",
        "pesan": "Jenis kelamin menurut NIK P, data anggota L; kirim insist=true bila KTP memang "
        "begitu",
        "message": "Sex according to NIK is P, member record says L; send insist=true if the KTP "
        "says so",
    },
    {
        "row": 37,
        "column": "tanggal_lahir",
        "rule": "date_format",
        "pesan": "harus tanggal yang ada: YYYY-MM-DD, DD/MM/YYYY atau DD-MM-YYYY",
        "message": "must be a real date: YYYY-MM-DD, DD/MM/YYYY or DD-MM-YYYY",
    },
    {
        "row": 112,
        "column": "disabilitas",
        "rule": "yes_no",
        "pesan": "harus ya atau tidak (y/t, 1/0, kosong = tidak)",
        "message": "must be yes or no (ya/tidak, y/t, 1/0, empty = no)",
    },
]


class RejectionView(BaseModel):
    """Satu baris yang ditolak dan alasannya (one rejected row and why)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_REJECTIONS[0]]})

    row: int = Field(description="Nomor baris seperti di lembar kerja (judul kolom = baris 1)")
    column: str = Field(description="Kolom yang bermasalah, mis. nik (the column at fault)")
    rule: str = Field(description="Aturan yang dilanggar, mis. nik_sex (the rule broken)")
    pesan: str = Field(description="Alasan dalam bahasa Indonesia")
    message: str = Field(description="The reason in English")


class ImportView(BaseModel):
    """Ringkasan impor (import summary): rows = members_created + members_existing + rejected."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _IMPORT_ID,
                    "filename": "pendataan-rt12-loktuan-november-2026.xlsx",
                    "rows": 148,
                    "households_created": 41,
                    "members_created": 139,
                    "members_existing": 6,
                    "rejected": 3,
                    "nik_conflicts": 1,
                    "seconds": 1.9,
                    "ignored_columns": ["keterangan"],
                    "report_url": f"/imports/{_IMPORT_ID}/report.csv",
                    "rejections": [*_REJECTIONS],
                }
            ]
        }
    )

    id: UUID = Field(description="ID impor (import id)")
    filename: str = Field(description="Nama berkas yang diunggah (uploaded file name)")
    rows: int = Field(description="Baris data, tanpa judul kolom (data rows, header excluded)")
    households_created: int = Field(description="Rumah tangga baru (new households)")
    members_created: int = Field(description="Anggota baru (new members)")
    members_existing: int = Field(description="Sudah ada di rumah tangganya: tidak ditambah lagi")
    rejected: int = Field(description="Baris yang ditolak (rejected rows)")
    nik_conflicts: int = Field(
        description="Konflik NIK baru: NIK yang sudah ada di rumah tangga lain (new NIK conflicts)"
    )
    seconds: float = Field(description="Lama impor, detik (duration in seconds)")
    ignored_columns: list[str] = Field(description="Kolom yang tidak dikenal dan tidak dibaca")
    report_url: str = Field(description="Laporan baris yang ditolak, CSV (rejected rows)")
    rejections: list[RejectionView] = Field(
        description=f"{INLINE_REJECTIONS} penolakan pertama; semuanya ada di report_url"
    )

    @classmethod
    def of(cls, counts: dict[str, Any], report_csv: str) -> ImportView:
        lines = csv.reader(io.StringIO(report_csv))
        next(lines, None)  # the header
        rejections = [
            RejectionView(row=int(r[0]), column=r[1], rule=r[2], pesan=r[3], message=r[4])
            for r, _ in zip(lines, range(INLINE_REJECTIONS), strict=False)
        ]
        return cls(
            **counts,
            report_url=f"/imports/{counts['id']}/report.csv",
            rejections=rejections,
        )


def import_routes(runtime: Runtime) -> APIRouter:
    router = APIRouter(tags=["impor (bulk import)"], responses=PROBLEMS)

    @router.post(
        "/imports",
        dependencies=allow(*FIELD),
        summary="Impor XLSX/CSV dari RT (one row per member; header names as in the template)",
    )
    async def upload(
        principal: Caller,
        file: Annotated[
            UploadFile,
            File(
                description=(
                    "Berkas .xlsx atau .csv dari RT, satu baris per anggota, judul kolom seperti "
                    "templat (one row per member, header names as in the template)"
                )
            ),
        ],
    ) -> ImportView:
        name = file.filename or "unggahan"
        with tempfile.TemporaryDirectory() as folder:
            source: Path | IO[bytes] = file.file
            if (file.size or 0) >= import_files.WORKER_MIN_BYTES:
                # A big file is read by a worker process, which needs it under a name.
                source = Path(folder) / "upload"
                await asyncio.to_thread(_save, file.file, source)
            try:
                counts, report_csv = await import_upload(runtime, source, name, principal)
            except FileRejected as rejected:
                problem = FieldProblem(
                    field="file",
                    rule="file_rejected",
                    pesan=f"file: {rejected.pesan}",
                    message=f"file: {rejected.message}",
                )
                body = ValidationProblem(errors=[problem]).model_dump()
                raise HTTPException(422, detail=body) from None
        return ImportView.of(counts, report_csv)

    @router.get(
        "/imports/{import_id}",
        dependencies=allow(*FIELD),
        summary="Ringkasan satu impor (one import's summary)",
    )
    async def read(import_id: UUID) -> ImportView:
        with answers():
            async with runtime.engine.connect() as conn:
                counts, report = await load_report(conn, import_id)
        return ImportView.of(counts, report)

    @router.get(
        "/imports/{import_id}/report.csv",
        dependencies=allow(*FIELD),
        summary="Laporan baris yang ditolak, CSV (rejected rows: row, column, rule, reason)",
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}}},
    )
    async def report(import_id: UUID) -> Response:
        with answers():
            async with runtime.engine.connect() as conn:
                _, text = await load_report(conn, import_id)
        return Response(
            # The BOM makes Excel open the file as UTF-8.
            content="\ufeff" + text,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="impor-{import_id}.csv"'},
        )

    return router


def _save(upload: IO[bytes], path: Path) -> None:
    upload.seek(0)
    with path.open("wb") as out:
        shutil.copyfileobj(upload, out, 1 << 20)


def report_path_for(path: Path) -> Path:
    """Where `sinergi import` writes the rejected rows: beside the file."""
    return path.with_name(f"{path.stem}.laporan.csv")


async def import_upload(
    runtime: Runtime, source: Path | IO[bytes], filename: str, principal: Principal | None = None
) -> tuple[dict[str, Any], str]:
    """An upload's import: its summary and report CSV; `FileRejected` if it cannot be read.

    A big file (given as a `Path`) is imported by a process of its own, as `sinergi import`
    imports it: planning and writing take the other core while this process goes on answering
    and relaying the events, instead of all three sharing one. Rows outside the `principal`'s
    area are rejected in the report.
    """
    if not isinstance(source, Path):
        summary = await import_file(
            runtime.uow,
            runtime.engine,
            source,
            filename=filename,
            area=scope.import_area(principal),
        )
        return summary.counts(), summary.report_csv()
    import_id = await _import_in_child(runtime.settings, source, filename, principal)
    async with runtime.engine.connect() as conn:
        return await load_report(conn, import_id)


async def _import_in_child(
    settings: Settings, path: Path, filename: str, principal: Principal | None
) -> UUID:
    env = dict(os.environ) | {
        "SINERGI_DATABASE_URL": settings.database_url,
        "SINERGI_NATS_SERVERS": ",".join(settings.nats_servers),
    }
    env.pop("SINERGI_DATABASE_SCHEMA", None)
    if settings.database_schema:
        env["SINERGI_DATABASE_SCHEMA"] = settings.database_schema
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", __name__, str(path), filename),
        # Whose upload it is, so the child rejects the rows outside their area too.
        *([] if principal is None else [json.dumps(principal.claims())]),
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        out, _ = await process.communicate()
    except BaseException:  # the request was cancelled: so is its import (one transaction a batch)
        process.kill()
        await process.wait()
        raise
    if process.returncode:  # its traceback is in the service's log (stderr is shared)
        raise RuntimeError(f"impor gagal (import failed), exit code {process.returncode}")
    answer = json.loads(out.decode().strip().splitlines()[-1])
    if "rejected" in answer:
        raise FileRejected(*answer["rejected"])
    return UUID(answer["id"])


async def _import_alone(
    path: Path, filename: str, settings: Settings, principal: Principal | None = None
) -> ImportSummary:
    """Import `path` with an engine of this process's own (no relay: the service's publishes)."""
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    uow = UnitOfWork(engine=engine, outbox=tables.outbox, on_commit=lambda: None)
    # What is alive now lives until the end: leave it out of the full collections that
    # ~200,000 rows' worth of objects set off (as `sinergi serve` does after start-up).
    gc.freeze()
    try:
        return await import_file(
            uow, engine, path, filename=filename, area=scope.import_area(principal)
        )
    finally:
        gc.unfreeze()
        await engine.dispose()


def run_import(path: Path, settings: Settings, *, report: Path | None = None) -> ImportSummary:
    """`sinergi import FILE`: import into the registry database named by `settings`.

    The events wait in the outbox; the running registry service's relay publishes them. The
    rejected rows go to `report` (default FILE.laporan.csv) when there are any.
    """
    summary = asyncio.run(_import_alone(path, path.name, settings))
    if summary.rejections:
        (report or report_path_for(path)).write_text(summary.report_csv(), encoding="utf-8-sig")
    return summary


def describe(summary: ImportSummary) -> str:
    """The summary for a terminal, Indonesian first."""
    s = summary
    return (
        f"{s.rows} baris (rows): {s.households_created} rumah tangga baru (new households), "
        f"{s.members_created} anggota baru (new members), {s.members_existing} sudah ada "
        f"(already there), {s.rejected} ditolak (rejected), {s.nik_conflicts} konflik NIK "
        f"(NIK conflicts); {s.seconds:.1f} s"
    )


def _child(path: str, filename: str, claims: str | None = None) -> None:
    """The process `import_upload` starts: one line of JSON on stdout, the import's id."""
    settings = Settings()  # the database and NATS given by the service
    principal = None if claims is None else Principal.of(json.loads(claims))
    CALLER.set(principal)  # the rows' events name the uploader, as in the service
    try:
        summary = asyncio.run(_import_alone(Path(path), filename, settings, principal))
    except FileRejected as rejected:
        print(json.dumps({"rejected": [rejected.pesan, rejected.message]}), flush=True)
        return
    print(json.dumps({"id": str(summary.id)}), flush=True)


if __name__ == "__main__":
    _child(*sys.argv[1:4])
