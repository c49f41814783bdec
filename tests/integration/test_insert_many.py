"""`insert_many` stores exactly what SQLAlchemy's own executemany stores, on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    select,
)

from sinergi.db import create_engine, insert_many
from sinergi.migrate import upgrade

pytestmark = pytest.mark.integration

metadata = MetaData()
TABLES = [
    Table(
        name,
        metadata,
        Column("id", String(36), primary_key=True),
        Column("count", Integer, nullable=True),
        Column("done", Boolean, nullable=False),
        Column("day", Date, nullable=True),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("doc", JSON, nullable=False),
    )
    for name in ("by_core", "by_insert_many")
]

NOW = datetime(2026, 11, 29, 5, 30, 1, 123456, tzinfo=UTC)
ROWS: list[dict[str, Any]] = [
    # one timestamp on every row (formatted once) and then rows that differ
    {"id": "a", "count": 1, "done": True, "day": date(2024, 2, 29), "at": NOW, "doc": []},
    {"id": "b", "count": None, "done": False, "day": None, "at": NOW, "doc": {"k": "Bontang"}},
    {"id": "c", "count": 0, "done": False, "day": date(1990, 1, 1), "at": NOW, "doc": ["ü", 1]},
]


@pytest.mark.parametrize(
    "rows", [ROWS, ROWS[:1], [dict(ROWS[0], at=datetime(2020, 1, 1, tzinfo=UTC)), *ROWS[1:]]]
)
async def test_insert_many_equals_core_executemany(
    settings_for: Any, rows: list[dict[str, Any]]
) -> None:
    settings = settings_for("registry")
    await upgrade("registry", settings)  # the test's own schema on PostgreSQL
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(insert(TABLES[0]), rows)
            await insert_many(conn, TABLES[1], rows)
            by_core, by_us = [
                [tuple(r) for r in await conn.execute(select(t).order_by(t.c.id))] for t in TABLES
            ]
            await conn.run_sync(metadata.drop_all)
    finally:
        await engine.dispose()
    assert by_us == by_core
    assert len(by_us) == len(rows)
