"""SQLite statements without the thread crossings: inline while writing, one trip otherwise.

aiosqlite runs each call on its own thread and hands the result back through the event loop.
SQLAlchemy's adapter makes a call to open a cursor, one to execute, one to fetch the rows and
one to close it, then one per commit and one per rollback: a registration crossed threads a
dozen times, each crossing a self-pipe write, a wake-up and a wait for its turn on the loop.
That came to 3 ms of CPU for three small statements that SQLite runs in 0.2 ms, and the
writers' queue (db.SQLiteEngine) was held across every wait.

- Inside a write transaction (`SQLiteEngine.begin()`, which sets WRITING) statements, commit
  and rollback run on the event loop itself: they are short OLTP writes, and the queue lets one
  run at a time anyway. Bulk imports of big files run in a process of their own.
- Elsewhere (reads through `connect()`, which may scan) a statement still runs on aiosqlite's
  thread, so the loop keeps serving, but as one function: open, execute, fetch, close.

It relies on two names of aiosqlite's Connection that are not public (`_execute`, which queues a
function on its thread, and `_conn`, the sqlite3 connection, opened with check_same_thread off);
tests/unit/test_sqlite_cursor.py holds them to their behaviour. Server-side cursors (stream
results) keep SQLAlchemy's own.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
)
from sqlalchemy.util import EMPTY_DICT

# Set by SQLiteEngine.begin() for the task that holds the writers' queue.
WRITING: ContextVar[bool] = ContextVar("sinergi_sqlite_writing", default=False)

Outcome = tuple[Any, int, int | None, list[Any]]


def _run(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> Outcome:
    """The whole life of one cursor: description, rowcount, lastrowid and rows."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, () if parameters is None else parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ("_outcome",)

    def __init__(self, adapt_connection: Any) -> None:
        # No aiosqlite cursor is opened here: that was a crossing of its own.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._outcome: Outcome = (None, -1, None, [])

    @property
    def description(self) -> Any:
        return self._outcome[0]

    @property
    def rowcount(self) -> int:
        return self._outcome[1]

    @property
    def lastrowid(self) -> Any:
        return self._outcome[2]

    async def _execute_async(self, operation: Any, parameters: Any) -> None:
        await self._trip(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Sequence[Any]) -> None:
        await self._trip(operation, seq_of_parameters, many=True)

    async def _trip(self, operation: str, parameters: Any, *, many: bool) -> None:
        connection = self._connection
        if WRITING.get():
            self._outcome = _run(connection._conn, operation, parameters, many)
        else:
            async with self._adapt_connection._execute_mutex:
                self._outcome = await connection._execute(
                    _run, connection._conn, operation, parameters, many
                )
        self._rows = collections.deque(self._outcome[3])

    async def _async_soft_close(self) -> None:
        return None  # the cursor was closed where it ran

    def close(self) -> None:
        self._rows.clear()


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor

    def commit(self) -> None:
        if WRITING.get() and self._connection._connection:
            try:
                self._connection._conn.commit()
            except Exception as error:
                self._handle_exception(error)
        else:
            super().commit()

    def rollback(self) -> None:
        if WRITING.get() and self._connection._connection:
            try:
                self._connection._conn.rollback()
            except Exception as error:
                self._handle_exception(error)
        else:
            super().rollback()


def adopt(dbapi_connection: Any, _record: Any = None) -> None:
    """Give a new pooled connection these cursors (a SQLAlchemy "connect" listener)."""
    if type(dbapi_connection) is AsyncAdapt_aiosqlite_connection:
        dbapi_connection.__class__ = OneTripConnection


async def begin_immediate(driver_connection: Any, wait_ms: int) -> None:
    """Take SQLite's write lock for the transaction about to run.

    First on the event loop without waiting; if another process (an import) holds the lock,
    the wait (up to `wait_ms`) happens on aiosqlite's thread, never on the loop. Taken at the
    start, the lock also spares a transaction that reads before it writes from failing at the
    upgrade when another process committed in between.
    """
    conn: sqlite3.Connection = driver_connection._conn
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        conn.execute("BEGIN IMMEDIATE")
        return
    except sqlite3.OperationalError:
        pass  # locked by another process
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")
    await driver_connection._execute(conn.execute, "BEGIN IMMEDIATE")
