"""Each service's migrations build exactly the tables its code declares."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from sinergi.catalogue import SERVICE_NAMES, definition
from sinergi.db import create_engine
from sinergi.migrate import upgrade

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("service", SERVICE_NAMES)
async def test_migrations_match_the_models(settings_for: Any, service: str) -> None:
    settings = settings_for(service)
    await upgrade(service, settings)
    await upgrade(service, settings)  # running again changes nothing
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync), definition(service).metadata
                )
            )
    finally:
        await engine.dispose()
    assert diff == []
