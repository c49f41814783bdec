"""`sinergi demo`: synthetic households loaded as field data, their events published."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from services.registry.demo import generate
from services.registry.demo_load import load
from services.registry.models import assessments, households, measurements, members
from tests.system import eventually, start_system

pytestmark = pytest.mark.integration


async def test_demo_data_is_loaded_once_with_assessments_measurements_and_duplicates_found(
    settings_for: Any,
) -> None:
    data = generate(households=120, seed=7, duplicate_rate=0.1)
    async with start_system(settings_for, services=("registry",)) as system:
        runtime = system.runtime("registry")
        first = await load(runtime.uow, runtime.engine, data)
        again = await load(runtime.uow, runtime.engine, data)

        async def count(table: Any) -> int:
            async with runtime.engine.connect() as conn:
                return int(await conn.scalar(select(func.count()).select_from(table)) or 0)

        assert await count(households) == 120
        assert await count(members) == data.member_count
        assert await count(assessments) == 120
        assert await count(measurements) == first.measured > 0
        assert first.imported.rejected == 0
        assert (again.imported.households_created, again.assessed, again.measured) == (0, 0, 0)

        detail = (await system.registry.get("/households", params={"limit": 200})).json()
        statuses = {h["poverty_status"] for h in detail["items"]}
        assert {"miskin_ekstrem", "miskin", "tidak_miskin"} <= statuses

        # The planted copies (no NIK, typos) reach the kelurahan officers' queue.
        await eventually(
            lambda: system.registry.get("/duplicates/scan"), lambda r: r.json()["queued"] == 0
        )
        queue = (await system.registry.get("/duplicates", params={"limit": 200})).json()["items"]
        found = {tuple(sorted((c["left"]["member_id"], c["right"]["member_id"]))) for c in queue}
        assert len(found) >= 0.8 * len(data.planted)

        # Every change went out as an event: the outbox empties into JetStream.
        outbox = runtime.definition.tables.outbox
        await eventually(lambda: _unpublished(runtime.engine, outbox), lambda n: n == 0, within=60)


async def _unpublished(engine: Any, outbox: Any) -> int:
    async with engine.connect() as conn:
        return int(
            await conn.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            )
            or 0
        )


def test_sinergi_demo_fills_the_data_folder_of_sinergi_up(tmp_path: Any, monkeypatch: Any) -> None:
    from typer.testing import CliRunner

    from sinergi.cli import app

    monkeypatch.delenv("SINERGI_DATABASE_URL", raising=False)
    result = CliRunner().invoke(app, ["demo", "--households", "30", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "30 rumah tangga baru" in result.output
    assert "penilaian (assessments): 30" in result.output
    assert (tmp_path / "registry.db").exists()
