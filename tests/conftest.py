"""Fixtures shared by every test: a real nats-server per test and a real database.

Set SINERGI_TEST_DATABASE_URL=postgresql+asyncpg://… to run the same tests against PostgreSQL;
each test then gets schemas of its own, dropped afterwards. Without it, SQLite files.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from sinergi.catalogue import SERVICE_NAMES
from sinergi.config import Settings
from sinergi.natsauth import OPERATOR, embedded_users
from sinergi.natsserver import NatsServer
from tests import tokens

POSTGRES_URL = os.environ.get("SINERGI_TEST_DATABASE_URL", "")

SettingsFor = Callable[..., Settings]

WATCHDOG_SECONDS = 120.0


@pytest.fixture(autouse=True)
async def asyncio_watchdog() -> AsyncIterator[None]:
    """If a test hangs, print where every task of its event loop is waiting (then it times out).

    pytest-timeout shows only the threads, where a hung asyncio test is just `select()`.
    """

    async def watch() -> None:
        await asyncio.sleep(WATCHDOG_SECONDS)
        report = io.StringIO()
        for task in asyncio.all_tasks():
            print(f"--- {task.get_name()}", file=report)
            task.print_stack(file=report)
        print(f"asyncio tasks after {WATCHDOG_SECONDS}s:\n{report.getvalue()}", file=sys.stderr)

    watchdog = asyncio.create_task(watch(), name="watchdog")
    yield
    watchdog.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watchdog


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """Secured as `sinergi up` secures it: each service connects as itself (so every test
    also proves the services keep to their NATS permissions); tests use `client_url()`."""
    users = embedded_users(tmp_path / "nats-users.json")
    with NatsServer(store_dir=tmp_path / "nats", users=users) as server:
        yield server


@pytest.fixture
async def settings_for(tmp_path: Path, nats_server: NatsServer) -> AsyncIterator[SettingsFor]:
    """`settings_for("registry", **overrides)`: a service's settings for this test."""
    run = uuid.uuid4().hex[:8]
    schemas: list[str] = []

    def make(service: str, **overrides: object) -> Settings:
        user = service if service in SERVICE_NAMES else OPERATOR
        values: dict[str, object] = {
            "environment": "test",
            "nats_servers": [nats_server.url],
            # A service as itself; a second database of a test (e.g. a rebuild's) as the
            # command line connects, the operator.
            "nats_user": user,
            "nats_password": nats_server.password_of(user),
            "retry_delays": (0.2,),
            "max_deliver": 3,
            "ack_wait_seconds": 5.0,
            "relay_poll_seconds": 0.1,
            "duplicate_scan_seconds": 0.1,
            "consumer_batch_wait_seconds": 0.02,
            "log_json": False,
            "auth_key_file": tokens.KEY_FILE,
        }
        if POSTGRES_URL:
            schema = f"t{run}_{service}"
            schemas.append(schema)
            values |= {"database_url": POSTGRES_URL, "database_schema": schema}
        else:
            values["database_url"] = f"sqlite+aiosqlite:///{tmp_path / service}.db"
        values |= overrides
        return Settings(**values)  # type: ignore[arg-type]

    yield make
    if POSTGRES_URL and schemas:
        engine = create_async_engine(POSTGRES_URL)
        async with engine.begin() as conn:
            for schema in set(schemas):
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()
