"""Playwright's sync API runs its own event loop in this thread for the whole module: the
suite's asyncio watchdog (an async autouse fixture) would start a second one beside it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def asyncio_watchdog() -> Iterator[None]:
    yield  # no event loop here; pytest-timeout still stops a hung test
