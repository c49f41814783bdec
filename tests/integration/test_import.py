"""Bulk import from the RT spreadsheets, over HTTP and the CLI, with a real nats-server and DB."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from sinergi_contracts import HouseholdRegistered, MemberAdded, NikConflictDetected

from services.registry import import_files, import_plan
from services.registry.import_api import describe, run_import
from services.registry.import_rows import COLUMNS
from tests.integration.test_registry import registered
from tests.system import System, eventually, start_system

pytestmark = pytest.mark.integration

HEADER = [c for c in COLUMNS if c != "tegaskan"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
KK_1, KK_2, KK_3 = "6474010101200011", "6474020101200012", "6474030101200013"
SITI = "6474014505900001"  # woman, 5 May 1990
BUDI = "6474010112850002"  # man, 1 December 1985

# Two good households (2 + 1 members), one KK whose only row is bad, and bad rows in KK_1.
GOOD_AND_BAD: list[dict[str, Any]] = [
    {"no_kk": KK_1, "nik": SITI, "nama": "Siti Aminah", "jenis_kelamin": "P"},
    {"no_kk": KK_1, "nik": BUDI, "nama": "Budi Santoso", "jenis_kelamin": "L",
     "tanggal_lahir": "01/12/1985", "hubungan": "suami", "bekerja": "y"},
    {"no_kk": KK_1, "nik": "", "nama": "Ani", "tanggal_lahir": "2031-01-01", "hubungan": "anak"},
    {"no_kk": KK_1, "nik": "6474014505900003", "nama": "Rina", "jenis_kelamin": "L"},
    {"no_kk": KK_2, "kelurahan": "tanjung laut", "nik": "", "nama": "Rahmat",
     "jenis_kelamin": "L", "tanggal_lahir": "1970-01-01", "hamil": "ya"},
    {"no_kk": KK_2, "kelurahan": "64.74.02.1001", "nik": "", "nama": "Dewi",
     "tanggal_lahir": "3-4-1975", "hubungan": "istri"},
    {"no_kk": KK_3, "kelurahan": "Kota Baru", "nik": "", "nama": "Joko"},
    {"no_kk": KK_1, "nik": "", "nama": "Yusuf", "jenis_kelamin": "L", "hubungan": "anak",
     "tanggal_lahir": "2015-07-17", "disabilitas": "mungkin"},
]  # fmt: skip
# (row, column, rule) of every rejection, the header being row 1.
EXPECTED = [
    (4, "tanggal_lahir", "future_date"),
    (5, "nik", "nik_sex"),
    (6, "hamil", "sex_mismatch"),
    (8, "kelurahan", "value_error"),
    (9, "disabilitas", "yes_no"),
]


def row(changes: dict[str, Any]) -> list[Any]:
    values = {
        "kelurahan": "Lok Tuan",
        "rw": 3,
        "rt": 12,
        "alamat": "Jl. Pupuk Raya No. 7",
        "nama_kepala": "Siti Aminah",
        "jenis_kelamin": "P",
        "tanggal_lahir": "1990-05-05",
        "hubungan": "kepala",
        "pekerjaan": "",
        "bekerja": "tidak",
        "disabilitas": "",
        "hamil": "",
    } | changes
    return [values[c] for c in HEADER]


def as_csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow([c.upper() for c in HEADER])
    writer.writerows(row(r) for r in rows)
    return out.getvalue().encode("utf-8-sig")


def as_xlsx(rows: list[dict[str, Any]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append([c.replace("_", " ").title() for c in HEADER])
    for values in rows:
        cells = row(values)
        born = cells[HEADER.index("tanggal_lahir")]
        if "-" in born and len(born) == 10 and born[4] == "-":  # a real date cell, as in Excel
            cells[HEADER.index("tanggal_lahir")] = datetime.fromisoformat(born)
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def with_imports(system: System) -> httpx.AsyncClient:
    """The registry's client, which serves the import routes."""
    return system.registry


async def upload(client: httpx.AsyncClient, name: str, data: bytes, kind: str) -> dict[str, Any]:
    response = await client.post("/imports", files={"file": (name, data, kind)})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def households_by_kk(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    listed = (await client.get("/households", params={"limit": 200})).json()["items"]
    found = {}
    for item in listed:
        detail = (await client.get(f"/households/{item['id']}")).json()
        found[item["no_kk_masked"][-4:]] = detail
    return found


@pytest.mark.parametrize(("name", "kind"), [("rt12.xlsx", XLSX), ("rt12.csv", "text/csv")])
async def test_good_rows_are_imported_and_each_bad_row_is_reported(
    settings_for: Any, name: str, kind: str
) -> None:
    data = as_xlsx(GOOD_AND_BAD) if name.endswith("xlsx") else as_csv(GOOD_AND_BAD)
    async with start_system(settings_for) as system:
        client = await with_imports(system)
        summary = await upload(client, name, data, kind)
        assert {k: summary[k] for k in ("rows", "households_created", "members_created")} == {
            "rows": 8,
            "households_created": 2,
            "members_created": 3,
        }
        assert (summary["rejected"], summary["members_existing"]) == (5, 0)
        assert [(r["row"], r["column"], r["rule"]) for r in summary["rejections"]] == EXPECTED
        assert summary["rejections"][0]["pesan"] == "tanggal lahir tidak boleh di masa depan"
        assert summary["rejections"][0]["message"] == "birth date cannot be in the future"

        report = await client.get(summary["report_url"])
        assert report.status_code == 200
        assert report.headers["content-type"].startswith("text/csv")
        lines = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
        assert lines[0] == ["baris", "kolom", "aturan", "alasan", "reason"]
        assert [(int(r[0]), r[1], r[2]) for r in lines[1:]] == EXPECTED
        again = (await client.get(f"/imports/{summary['id']}")).json()
        assert again["rows"] == 8

        found = await households_by_kk(client)
        assert set(found) == {KK_1[-4:], KK_2[-4:]}
        assert [m["name"] for m in found[KK_1[-4:]]["members"]] == ["Siti Aminah", "Budi Santoso"]
        assert found[KK_2[-4:]]["kelurahan_name"] == "Tanjung Laut"
        assert found[KK_2[-4:]]["members"][0]["birth_date"] == "1975-04-03"

        household_id = found[KK_1[-4:]]["id"]
        timeline = await eventually(
            lambda: system.referrals.get(f"/households/{household_id}/timeline"),
            lambda r: len(r.json()["entries"]) == 3,
        )
        assert [e["type"] for e in timeline.json()["entries"]] == [
            HouseholdRegistered.ce_type(),
            MemberAdded.ce_type(),
            MemberAdded.ce_type(),
        ]

        second = await upload(client, name, data, kind)
        assert (second["households_created"], second["members_created"]) == (0, 0)
        assert (second["members_existing"], second["rejected"]) == (3, 5)
        assert await households_by_kk(client) == found


async def test_a_nik_already_in_another_household_is_a_conflict(settings_for: Any) -> None:
    async with start_system(settings_for) as system:
        client = await with_imports(system)
        elsewhere = await registered(client, "6474010101200099")
        added = await client.post(
            f"/households/{elsewhere}/members",
            json={"nik": SITI, "name": "Siti Aminah", "sex": "P", "birth_date": "1990-05-05",
                  "relation": "kepala"},
        )  # fmt: skip
        assert added.status_code == 201, added.text

        summary = await upload(client, "rt.csv", as_csv(GOOD_AND_BAD[:2]), "text/csv")
        assert (summary["members_created"], summary["nik_conflicts"]) == (2, 1)

        found = await households_by_kk(client)
        conflicts = found[KK_1[-4:]]["open_conflicts"]
        assert [c["other_household_id"] for c in conflicts] == [elsewhere]
        await client.post(f"/households/{found[KK_1[-4:]]['id']}/submit")
        blocked = await client.post(f"/households/{found[KK_1[-4:]]['id']}/verify")
        assert blocked.status_code == 409

        timeline = await eventually(
            lambda: system.referrals.get(f"/households/{elsewhere}/timeline"),
            lambda r: len(r.json()["entries"]) == 3,
        )
        assert timeline.json()["entries"][-1]["type"] == NikConflictDetected.ce_type()


async def test_a_big_file_goes_through_the_worker_process_and_rows_of_one_kk_may_be_apart(
    settings_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_files, "WORKER_MIN_BYTES", 0)
    monkeypatch.setattr(import_plan, "BATCH_HOUSEHOLDS", 1)  # each KK run its own batch
    apart = [*GOOD_AND_BAD[:1], *GOOD_AND_BAD[4:6], GOOD_AND_BAD[1]]
    async with start_system(settings_for, services=("registry",)) as system:
        client = await with_imports(system)
        summary = await upload(client, "rt.csv", as_csv(apart), "text/csv")
        assert (summary["households_created"], summary["members_created"]) == (2, 3)
        assert [(r["row"], r["column"]) for r in summary["rejections"]] == [(3, "hamil")]
        found = await households_by_kk(client)
        assert [m["name"] for m in found[KK_1[-4:]]["members"]] == ["Siti Aminah", "Budi Santoso"]
        assert found[KK_1[-4:]]["version"] == 3


async def test_a_big_upload_is_imported_by_a_process_of_its_own_with_the_same_result(
    settings_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every upload counts as big: imported by `python -m services.registry.import_api`.
    monkeypatch.setattr(import_files, "WORKER_MIN_BYTES", 1)
    async with start_system(settings_for, services=("registry",)) as system:
        client = await with_imports(system)
        summary = await upload(client, "rt12.csv", as_csv(GOOD_AND_BAD), "text/csv")
        rejected = await client.post(
            "/imports", files={"file": ("rt.csv", b"nama;nik\nSiti;1\n", "text/csv")}
        )
        stored = (await client.get(f"/imports/{summary['id']}")).json()
        found = await households_by_kk(client)
        # Written by the other process; published by this service's relay.
        relay = system.runtime("registry").relay
        assert relay is not None
        await eventually(lambda: asyncio.sleep(0, relay.published), lambda n: n >= 5)
    assert (summary["households_created"], summary["members_created"]) == (2, 3)
    assert [(r["row"], r["column"], r["rule"]) for r in summary["rejections"]] == EXPECTED
    assert stored == summary
    assert [m["name"] for m in found[KK_1[-4:]]["members"]] == ["Siti Aminah", "Budi Santoso"]
    assert rejected.status_code == 422
    assert rejected.json()["errors"][0]["pesan"].startswith("file: kolom wajib tidak ada")


async def test_a_file_without_the_required_columns_is_a_422(settings_for: Any) -> None:
    async with start_system(settings_for, services=("registry",)) as system:
        client = await with_imports(system)
        response = await client.post(
            "/imports", files={"file": ("rt.csv", b"nama;nik\nSiti;1\n", "text/csv")}
        )
        missing = await client.get("/imports/00000000-0000-0000-0000-000000000000/report.csv")
    assert response.status_code == 422
    problem = response.json()["errors"][0]
    assert problem["field"] == "file"
    assert problem["pesan"].startswith("file: kolom wajib tidak ada: no_kk, kelurahan")
    assert missing.status_code == 404


async def test_the_cli_imports_a_file_and_writes_the_report_beside_it(
    settings_for: Any, tmp_path: Path
) -> None:
    path = tmp_path / "rt12.xlsx"
    path.write_bytes(as_xlsx(GOOD_AND_BAD))
    async with start_system(settings_for, services=("registry",)) as system:
        await with_imports(system)
        settings = system.runtime("registry").settings
        summary = await asyncio.to_thread(run_import, path, settings)
        # The running service's relay publishes what the CLI wrote to the outbox.
        outbox = await eventually(lambda: unpublished(system), lambda count: count == 0, within=10)
    assert outbox == 0
    assert (summary.households_created, summary.members_created, summary.rejected) == (2, 3, 5)
    report = (tmp_path / "rt12.laporan.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(report) == 1 + len(EXPECTED)
    assert describe(summary).startswith("8 baris (rows): 2 rumah tangga baru (new households)")


async def unpublished(system: System) -> int:
    from sqlalchemy import func, select

    runtime = system.runtime("registry")
    outbox = runtime.definition.tables.outbox
    async with runtime.engine.connect() as conn:
        query = select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        return int(await conn.scalar(query) or 0)
