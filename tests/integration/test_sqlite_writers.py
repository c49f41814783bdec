"""SQLite's transactions take turns within the process (`sinergi.db.SQLiteEngine`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from sinergi import db

pytestmark = pytest.mark.integration


async def test_concurrent_read_then_write_transactions_all_commit_in_turn(tmp_path: Path) -> None:
    # Each transaction reads, yields to the others, then writes: left to SQLite, all but one
    # of the writers that read before another committed fail with "database is locked".
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'turns.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        await conn.execute(text("INSERT INTO counter VALUES (0)"))
    order: list[int] = []

    async def increment(who: int) -> None:
        async with engine.begin() as conn:
            n = await conn.scalar(text("SELECT n FROM counter"))
            await asyncio.sleep(0.001)
            await conn.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
            order.append(who)

    await asyncio.gather(*(increment(i) for i in range(40)))
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT n FROM counter")) == 40
    assert order == list(range(40))  # in the order they asked
    await engine.dispose()


async def test_a_transaction_waiting_too_long_is_told_the_database_is_busy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "SQLITE_WAIT_SECONDS", 0.2)
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'busy.db'}")
    async with engine.begin():
        with pytest.raises(TimeoutError, match=r"basis data sibuk.*database busy"):
            async with engine.begin():
                pass
    async with engine.begin() as conn:  # the queue is free again
        assert await conn.scalar(text("SELECT 1")) == 1
    await engine.dispose()


async def test_a_connection_leads_back_to_the_same_engine(tmp_path: Path) -> None:
    # Wake-ups and live hubs are kept per engine and found from a transaction's connection.
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'same.db'}")
    async with engine.begin() as conn:
        assert conn.engine is engine
    await engine.dispose()
