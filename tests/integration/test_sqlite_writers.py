"""SQLite's transactions take turns within the process (`sinergi.db.SQLiteEngine`), and
their statements skip aiosqlite's thread (`sinergi.sqlite_cursor`)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import exc, text

from sinergi import db, sqlite_cursor

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


@pytest.fixture
def crossings(monkeypatch: pytest.MonkeyPatch) -> list[Callable[..., Any]]:
    """The functions sent to aiosqlite's thread."""
    sent: list[Callable[..., Any]] = []
    original = aiosqlite.Connection._execute

    async def counted(
        self: aiosqlite.Connection, fn: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Any:
        sent.append(fn)
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return sent


async def test_a_write_transaction_stays_on_the_loop_and_a_read_crosses_once_a_statement(
    tmp_path: Path, crossings: list[Callable[..., Any]]
) -> None:
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'trips.db'}")
    async with engine.begin() as conn:
        crossings.clear()  # opening the connection (pragmas) is not the transaction's
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))
        assert (await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))).lastrowid == 1
        await conn.execute(text("INSERT INTO t (name) VALUES (:n)"), [{"n": "b"}, {"n": "c"}])
        changed = await conn.execute(text("UPDATE t SET name = name || '!' WHERE id > 1"))
        assert changed.rowcount == 2
    assert crossings == []  # the commit too
    async with engine.connect() as conn:
        names = (await conn.execute(text("SELECT name FROM t ORDER BY id"))).scalars().all()
    assert names == ["a", "b!", "c!"]
    assert crossings.count(sqlite_cursor._run) == 1
    await engine.dispose()


async def test_an_error_in_a_write_transaction_is_sqlalchemys_and_rolls_everything_back(
    tmp_path: Path,
) -> None:
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'errors.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (name TEXT UNIQUE)"))
        await conn.execute(text("INSERT INTO t VALUES ('a')"))
    with pytest.raises(exc.IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t VALUES ('b')"))
            await conn.execute(text("INSERT INTO t VALUES ('a')"))
    async with engine.begin() as conn:
        assert (await conn.execute(text("SELECT name FROM t"))).scalars().all() == ["a"]
    await engine.dispose()


async def test_waiting_for_another_processs_write_lock_leaves_the_loop_free(
    tmp_path: Path,
) -> None:
    path = tmp_path / "other.db"
    engine = db.create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (who TEXT)"))
    other = sqlite3.connect(path, isolation_level=None)  # e.g. `sinergi import` writing
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES ('import')")

    async def write() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t VALUES ('service')"))

    writer = asyncio.create_task(write())
    ticks = 0
    for _ in range(20):  # the loop keeps running while the writer waits for the lock
        await asyncio.sleep(0.01)
        ticks += 1
    assert ticks == 20 and not writer.done()
    other.execute("COMMIT")
    await asyncio.wait_for(writer, 5)
    async with engine.connect() as conn:
        who = (await conn.execute(text("SELECT who FROM t ORDER BY rowid"))).scalars().all()
    assert who == ["import", "service"]
    other.close()
    await engine.dispose()
