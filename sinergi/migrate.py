"""Alembic migrations, one history per service, run against that service's own database."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from sinergi.config import Settings
from sinergi.db import create_engine

SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"


def alembic_config(service: str, settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    config.attributes["settings"] = settings
    return config


async def upgrade(service: str, settings: Settings, revision: str = "head") -> None:
    # Alembic's env.py runs its own event loop, so it gets a thread of its own.
    await asyncio.to_thread(command.upgrade, alembic_config(service, settings), revision)


def run_migrations(metadata: MetaData) -> None:
    """The body of every service's `migrations/env.py`."""
    settings: Settings | None = context.config.attributes.get("settings")
    if settings is None:
        raise RuntimeError("run migrations with `sinergi migrate`, which supplies the settings")
    if context.is_offline_mode():
        context.configure(url=settings.database_url, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_online(metadata, settings))


async def _run_online(metadata: MetaData, settings: Settings) -> None:
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    try:
        async with engine.connect() as conn:
            if settings.database_schema:
                await conn.execute(
                    text(f'CREATE SCHEMA IF NOT EXISTS "{settings.database_schema}"')
                )
                await conn.commit()
            await conn.run_sync(_run_sync, metadata)
            await conn.commit()
    finally:
        await engine.dispose()


def _run_sync(conn: Connection, metadata: MetaData) -> None:
    context.configure(
        connection=conn,
        target_metadata=metadata,
        render_as_batch=conn.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
