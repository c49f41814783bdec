"""The async engine, chosen by URL: SQLite (aiosqlite) for the embedded mode, or PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from itertools import repeat
from operator import itemgetter
from typing import Any, TypeVar

import pydantic_core
from sqlalchemy import Table, event, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from sinergi import sqlite_cursor

T = TypeVar("T")
# The largest id or stream position a BIGINT (and SQLite's INTEGER) holds: the bound of every
# such parameter, so a bigger number is a 422, not a driver overflow.
POSITION_MAX = 2**63 - 1
IN_CHUNK = 2000  # values per IN (...) list, far below SQLite's 32,766 variables
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _to_json(value: Any) -> str:
    # JSON columns (outbox headers, answers, reasons) through pydantic-core's serializer: a
    # bulk import writes one per event, and json.dumps was a tenth of its time.
    return pydantic_core.to_json(value).decode()


# How long a write waits for the database: SQLite's busy timeout, and our writer queue's.
SQLITE_WAIT_SECONDS = 30.0

# The writer queue of each SQLite engine (see SQLiteEngine).
_writers: weakref.WeakKeyDictionary[AsyncEngine, asyncio.Lock] = weakref.WeakKeyDictionary()


class SQLiteEngine(AsyncEngine):
    """An engine whose transactions (`begin()`) take turns within the process.

    SQLite has one writer per file. Left to itself, a second writer sleeps in SQLite's busy
    handler (1, 2, 5 … 100 ms steps) until the first commits, or fails at once when it read
    before the other committed: under a few hundred writes a second the sleeps grow into
    seconds. Queued on an asyncio lock, each transaction starts as the last one ends, in
    order. Another process on the same file (e.g. `sinergi import FILE`) still meets the busy
    handler. Read-only work uses `connect()` and does not queue.
    """

    __slots__ = ()

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        writer = _writers.get(self) or _writers.setdefault(self, asyncio.Lock())
        try:
            async with asyncio.timeout(SQLITE_WAIT_SECONDS):
                await writer.acquire()
        except TimeoutError:
            raise TimeoutError(
                "basis data sibuk: transaksi lain belum selesai dalam "
                f"{SQLITE_WAIT_SECONDS:g} s (database busy: another transaction did not end)"
            ) from None
        writing = None
        try:
            async with super().begin() as conn:
                raw = await conn.get_raw_connection()
                await sqlite_cursor.begin_immediate(
                    raw.driver_connection, int(SQLITE_WAIT_SECONDS * 1000)
                )
                writing = sqlite_cursor.WRITING.set(True)
                yield conn
        finally:
            if writing is not None:
                sqlite_cursor.WRITING.reset(writing)
            writer.release()


def create_engine(url: str, *, schema: str | None = None) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(
            url,
            # The event loop runs a write transaction's statements itself (sqlite_cursor).
            connect_args={"timeout": SQLITE_WAIT_SECONDS, "check_same_thread": False},
            json_serializer=_to_json,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "connect", sqlite_cursor.adopt)
        # The same object with the queued begin(): `conn.engine` finds this one, so what
        # is keyed by engine (wake-ups, live hubs) stays one per database.
        engine.__class__ = SQLiteEngine
        return engine
    connect_args: dict[str, Any] = {}
    if schema:
        if not _SCHEMA_NAME.match(schema):
            raise ValueError(f"database_schema {schema!r} must be a plain lower-case name")
        connect_args["server_settings"] = {"search_path": schema}
    return create_async_engine(
        url,
        pool_size=10,
        max_overflow=10,
        connect_args=connect_args,
        json_serializer=_to_json,
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the HTTP handlers, the relay and the consumers read while one of them writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


async def lock_for_relay(conn: AsyncConnection, key: int) -> None:
    """Serialise outbox relays of one service across replicas, so events leave in order: a
    transaction-scoped PostgreSQL advisory lock (on SQLite one process owns the file)."""
    await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({int(key)})")


async def insert_many(
    conn: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]]
) -> None:
    """INSERT `rows` (all with the same keys) with one driver executemany.

    SQLAlchemy's executemany builds and processes a parameter dict per row in Python, which
    is most of a bulk import's time; here the statement is compiled once and each column's
    bind processor (dates, JSON, booleans as the dialect stores them) runs in a tight loop.
    """
    if not rows:
        return
    plan = _insert_plan(table, conn.dialect, tuple(rows[0]))
    if plan is None:
        # Column defaults computed in Python would need SQLAlchemy's own execution.
        await conn.execute(insert(table), list(rows))
        return
    sql, names, processors = plan
    # Column by column with map and zip: the loops run in C.
    columns = (
        list(zip(*map(itemgetter(*names), rows), strict=True))
        if len(names) > 1
        else [[row[names[0]] for row in rows]]
    )
    processed = [_process(col, p) for col, p in zip(columns, processors, strict=True)]
    params = list(zip(*processed, strict=True))
    await conn.exec_driver_sql(sql, params)


InsertPlan = tuple[str, Sequence[str], Sequence[Callable[[Any], Any] | None]]


@functools.lru_cache(maxsize=256)
def _insert_plan(table: Table, dialect: Dialect, keys: tuple[str, ...]) -> InsertPlan | None:
    """The INSERT's SQL, its parameter order and each column's bind processor, or None when
    SQLAlchemy must run it itself. Compiled once per table and set of keys: each command
    writes its outbox rows through here, and compiling was a tenth of a request's time."""
    compiled = insert(table).compile(dialect=dialect, column_keys=list(keys))
    names = compiled.positiontup
    if not compiled.positional or names is None or set(names) != set(keys):
        return None
    processors: list[Callable[[Any], Any] | None] = [
        table.c[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names
    ]
    return str(compiled), names, processors


def _process(column: Sequence[Any], processor: Callable[[Any], Any] | None) -> Iterable[Any]:
    if processor is None:
        return column
    first = column[0]
    if column.count(first) == len(column):  # e.g. one commit time on every row: format once
        return repeat(processor(first), len(column))
    return map(processor, column)


def insert_ignoring_repeats(
    conn: AsyncConnection, table: Table, *, key: str | None = None, returning: str | None = None
) -> Any:
    """INSERT … ON CONFLICT [(key)] DO NOTHING [RETURNING returning] for `conn`'s database,
    built once per table and database: a consumer runs it for every batch, and building and
    keying a new statement each time cost more than executing it."""
    return _ignoring(table, conn.dialect.name, key, returning)


@functools.lru_cache(maxsize=64)
def _ignoring(table: Table, dialect_name: str, key: str | None, returning: str | None) -> Any:
    dialect: Any = postgresql if dialect_name == "postgresql" else sqlite
    statement = dialect.insert(table).on_conflict_do_nothing(
        index_elements=None if key is None else [table.c[key]]
    )
    return statement if returning is None else statement.returning(table.c[returning])


def chunks(values: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """`values` in slices of `size`: for IN lists, and for batches of work."""
    for start in range(0, len(values), size):
        yield values[start : start + size]
